import type { Consumer, Kafka } from 'kafkajs';
import { withAdmin } from './client';

/**
 * Starts `consumer` (in a group of its own, unique per instance) at the offsets `topic` has now, and
 * resolves once it has joined its group. The offsets are committed for the group before it first
 * joins, so the consumer starts exactly there: nothing produced after this call is missed, and
 * nothing older is replayed. This needs no write access to the topic (the former self-probe did).
 */
export async function joinAtHighWatermarks(
  kafka: Kafka,
  /** A kafkajs consumer (its GROUP_JOIN event), or a test of having joined (a supervised consumer). */
  consumer: Consumer | (() => boolean),
  groupId: string,
  topic: string,
  run: () => Promise<void>,
  timeoutMs = 60_000,
): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId, topic, partitions: offsets.map((o) => ({ partition: o.partition, offset: o.high })) });
  });
  let removeListener: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const joined = new Promise<void>((resolve, reject) => {
    if (typeof consumer === 'function') {
      const poll = setInterval(() => {
        if (consumer()) resolve();
      }, 50);
      removeListener = () => clearInterval(poll);
    } else {
      removeListener = consumer.on(consumer.events.GROUP_JOIN, () => resolve());
    }
    timer = setTimeout(() => reject(new Error(`reply consumer did not join its group within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await run();
    await joined;
  } finally {
    clearTimeout(timer);
    removeListener();
  }
}
