import { applyDotenv } from '../env-file';

/** What KAFKA_TOPIC_PREFIX may hold: Kafka's topic characters, short enough for every name it starts. */
export const TOPIC_PREFIX_PATTERN = /^[A-Za-z0-9._-]{0,40}$/;

/**
 * KAFKA_TOPIC_PREFIX (environment or .env; default none) goes before every topic and consumer group
 * name: several deployments share one Kafka cluster without sharing a request (the bench runs its
 * twins of our processes so). Read once, when this module loads; ACLs follow the names.
 */
export function topicPrefix(value: string): string {
  if (!TOPIC_PREFIX_PATTERN.test(value)) throw new Error(`KAFKA_TOPIC_PREFIX: letters, digits, '.', '_' and '-' only, at most 40, got ${JSON.stringify(value)}`);
  return value;
}
applyDotenv();
const PREFIX = topicPrefix(process.env.KAFKA_TOPIC_PREFIX ?? '');

/** Every topic the system uses, created idempotently at start-up (scripts/ensure-topics.ts and each process). */
export const TOPICS = {
  dbRequests: `${PREFIX}auth.db.requests.v1`,
  /**
   * Audit rows (`audit.record`), in a lane of their own: the DB processor reads it with a consumer of
   * its own, so a sign-in's lookup never waits behind an audit write (a kafkajs consumer fetches
   * again only once every message of its last fetch is handled).
   */
  dbAudit: `${PREFIX}auth.db.audit.v1`,
  dbReplies: `${PREFIX}auth.db.replies.v1`,
  dbDeadLetter: `${PREFIX}auth.db.requests.dlq.v1`,
  /** Auth events for other services (common/events/auth-events.ts), keyed by user id. */
  authEvents: `${PREFIX}auth.events.v1`,
  /** Outbox rows the relay could not publish as an auth event (never expected: reason in `x-dlq-reason`). */
  authEventsDeadLetter: `${PREFIX}auth.events.dlq.v1`,
} as const;

const HOUR_MS = 3_600_000;

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  retentionMs: number;
}

export const TOPIC_SPECS: readonly TopicSpec[] = [
  // Requests and replies are useless after their deadline (seconds): keep an hour for inspection only.
  { topic: TOPICS.dbRequests, numPartitions: 6, retentionMs: HOUR_MS },
  { topic: TOPICS.dbAudit, numPartitions: 6, retentionMs: HOUR_MS },
  { topic: TOPICS.dbReplies, numPartitions: 6, retentionMs: HOUR_MS },
  { topic: TOPICS.dbDeadLetter, numPartitions: 1, retentionMs: 7 * 24 * HOUR_MS },
  // Consumers are other services: give a consumer that was down a month to catch up.
  { topic: TOPICS.authEvents, numPartitions: 6, retentionMs: 30 * 24 * HOUR_MS },
  { topic: TOPICS.authEventsDeadLetter, numPartitions: 1, retentionMs: 30 * 24 * HOUR_MS },
];

export const DB_PROCESSOR_GROUP = `${PREFIX}auth-db-processor`;
/** The DB processor's group on the audit lane. */
export const DB_PROCESSOR_AUDIT_GROUP = `${PREFIX}auth-db-audit`;

/** The topic a request of `type` is sent on: its lane. */
export const requestTopic = (type: string): string => (type === 'audit.record' ? TOPICS.dbAudit : TOPICS.dbRequests);

/** The prefix of the request/reply clients' own groups (one per process: auth-replies.<instance id>). */
export const REPLY_GROUP_PREFIX = `${PREFIX}auth-replies.`;
