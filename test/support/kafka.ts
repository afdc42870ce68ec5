import { Kafka, logLevel, type Consumer, type IHeaders, type KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import type { Config } from '../../common/config';
import { kafkaSasl } from '../../common/kafka/identity';

export interface Seen {
  partition: number;
  offset: string;
  key: string;
  keyBytes: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export const headerMap = (headers: IHeaders | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('utf8') : String(v)]));

/** A bare client as `cfd-admin` (may read and write every topic): an attacker with broker access. */
export const rawKafka = (config: Config, tag: string) =>
  new Kafka({ clientId: `${tag}-${randomUUID().slice(0, 8)}`, brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING, sasl: kafkaSasl(config, 'admin') });

/**
 * Reads `topic` raw (no decryption, no MAC check) from the offsets it had when tap() was called:
 * a fresh consumer group from the beginning, seeking to those offsets, so only newer messages count.
 */
export async function tap(kafka: Kafka, topic: string, keep: (m: KafkaMessage) => boolean = () => true): Promise<{ consumer: Consumer; seen: Seen[] }> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const start = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const seen: Seen[] = [];
  const consumer = kafka.consumer({ groupId: `test-tap-${randomUUID()}`, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (BigInt(message.offset) < (start.get(partition) ?? 0n)) return;
      if (!keep(message)) return;
      seen.push({
        partition,
        offset: message.offset,
        key: message.key?.toString('utf8') ?? '',
        keyBytes: message.key,
        value: message.value,
        headers: headerMap(message.headers),
      });
    },
  });
  for (const [partition, offset] of start) consumer.seek({ topic, partition, offset: offset.toString() });
  return { consumer, seen };
}
