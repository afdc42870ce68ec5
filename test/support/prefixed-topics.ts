/**
 * Imported first by a test file whose whole system runs under a topic namespace: sets
 * KAFKA_TOPIC_PREFIX before common/kafka/topics.ts is loaded (it reads it once, at load; jest gives
 * every test file a module registry of its own, so other files keep the unprefixed names).
 */
import { randomBytes } from 'node:crypto';

export const TEST_TOPIC_PREFIX = `test-ns-${randomBytes(3).toString('hex')}.`;
process.env.KAFKA_TOPIC_PREFIX = TEST_TOPIC_PREFIX;
