import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { TOPIC_SPECS } from './topics';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(config: Config, logger: Logger, clientId = config.KAFKA_CLIENT_ID): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId,
    brokers: config.KAFKA_BROKERS,
    ssl: config.KAFKA_SSL,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log }) => {
      const { message, ...extra } = log;
      logger[LEVELS[level] ?? 'info']({ kafka: extra }, `kafkajs: ${message}`);
    },
  };
  if (config.KAFKA_SASL_MECHANISM) {
    kafkaConfig.sasl = {
      mechanism: config.KAFKA_SASL_MECHANISM,
      username: config.KAFKA_SASL_USERNAME ?? '',
      password: config.KAFKA_SASL_PASSWORD ?? '',
    } as SASLOptions;
  }
  return new Kafka(kafkaConfig);
}

/** Creates missing topics with their partitions and retention; existing ones are left as they are. */
export async function ensureTopics(kafka: Kafka): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = TOPIC_SPECS.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.topic,
        numPartitions: t.numPartitions,
        replicationFactor: 1,
        configEntries: [{ name: 'retention.ms', value: String(t.retentionMs) }],
      })),
    });
  } finally {
    await admin.disconnect();
  }
}
