import { loadConfig } from '../common/config';
import { createLogger } from '../common/logger';
import { createKafka, ensureTopics } from '../common/kafka/client';

const config = loadConfig();
ensureTopics(createKafka(config, createLogger('ensure-topics', 'warn')))
  .then(() => process.stdout.write('kafka topics: ready\n'))
  .catch((err) => {
    process.stderr.write(`could not create Kafka topics: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
