import { loadConfig } from '../common/config';
import { createLogger } from '../common/logger';
import { createKafka, ensureAcls, ensureTopics } from '../common/kafka/client';

/** Creates the topics and grants every service its ACLs, as cfd-admin (scripts/stack.sh, compose's migrate step). */
async function main() {
  const config = loadConfig();
  const kafka = createKafka(config, createLogger('ensure-topics', 'warn'), 'admin');
  await ensureTopics(kafka);
  if (config.KAFKA_SASL_MECHANISM !== 'none') await ensureAcls(kafka);
}

main()
  .then(() => process.stdout.write('kafka topics and ACLs: ready\n'))
  .catch((err) => {
    process.stderr.write(`could not create Kafka topics or ACLs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
