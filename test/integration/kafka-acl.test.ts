/**
 * Who may do what on the broker (the local stack runs SASL/SCRAM with ACLs, scripts/stack.sh;
 * the grants are common/kafka/identity.ts). The API and the worker may only write requests and read
 * replies; the DB processor only the reverse (plus dead letters); a wrong password or no SASL at all
 * gets nowhere. Each denial is checked on the real broker with the role's own credentials.
 */
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { kafkaSasl, REPLY_GROUP_PREFIX, type KafkaRole } from '../../common/kafka/identity';
import { DB_PROCESSOR_AUDIT_GROUP, DB_PROCESSOR_GROUP, TOPICS } from '../../common/kafka/topics';
import { testConfig } from '../../testkit/env';

const config = testConfig();

/**
 * Broker error codes kafkajs logs at debug level and then drops: a group lookup that the broker
 * refuses (GROUP_AUTHORIZATION_FAILED) surfaces only as "Failed to find group coordinator".
 */
const loggedCodes: string[] = [];

const client = (sasl: SASLOptions | undefined) =>
  new Kafka({
    clientId: `kafka-acl-${randomUUID().slice(0, 8)}`,
    brokers: config.KAFKA_BROKERS,
    sasl,
    logLevel: logLevel.DEBUG,
    logCreator: () => ({ log }) => {
      const type = (log.error as { type?: unknown } | undefined)?.type;
      if (typeof type === 'string') loggedCodes.push(type);
    },
    connectionTimeout: 3000,
    retry: { retries: 0 },
  });

const as = (role: KafkaRole) => client(kafkaSasl(config, role));

type KafkaError = { type?: string; name: string; cause?: unknown; originalError?: unknown };

/** The broker's error code behind a kafkajs error (it wraps them when it gives up), else its name. */
function errorType(err: unknown): string {
  for (let e = err as KafkaError | undefined; e; e = (e.originalError ?? e.cause) as KafkaError | undefined) {
    if (e.type) return e.type;
  }
  const name = (err as Error).name;
  if (name === 'KafkaJSGroupCoordinatorNotFound' && loggedCodes.includes('GROUP_AUTHORIZATION_FAILED')) return 'GROUP_AUTHORIZATION_FAILED';
  return name;
}

/** The error type kafkajs reports for one produce, or 'ok'. */
async function produce(kafka: Kafka, topic: string): Promise<string> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await producer.connect();
    // An empty value with no MAC: were it allowed, the DB processor would dead-letter it.
    await producer.send({ topic, messages: [{ key: `kafka-acl-${randomUUID()}`, value: '' }] });
    return 'ok';
  } catch (err) {
    return errorType(err);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

/** The error of reading `topic` in group `groupId`, or 'ok' once a fetch succeeded. */
async function consume(kafka: Kafka, topic: string, groupId: string): Promise<string> {
  loggedCodes.length = 0;
  // Retries: a fresh broker creates its offsets topic on the first group lookup. Denials are not retried.
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, retry: { retries: 5, initialRetryTime: 300 } });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    return await new Promise<string>((resolve) => {
      const deadline = setTimeout(() => resolve('no answer within 30 s'), 30_000);
      // 'ok' only once a fetch came back: joining a group needs no read access to the topic.
      consumer.on(consumer.events.FETCH, () => { clearTimeout(deadline); resolve('ok'); });
      consumer.on(consumer.events.CRASH, (e) => {
        clearTimeout(deadline);
        resolve(errorType(e.payload.error));
      });
      consumer.run({ eachMessage: async () => undefined }).catch((err: unknown) => {
        clearTimeout(deadline);
        resolve(errorType(err));
      });
    });
  } catch (err) {
    return errorType(err);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

const replyGroup = () => `${REPLY_GROUP_PREFIX}kafka-acl-${randomUUID()}`;

describe('Kafka ACLs: each service may do only its part', () => {
  jest.setTimeout(120_000);

  it.each(['api', 'worker'] as const)('%s writes requests (the API audit rows too) and reads replies, and nothing else', async (role) => {
    const kafka = as(role);
    expect(await produce(kafka, TOPICS.dbRequests)).toBe('ok');
    expect(await consume(kafka, TOPICS.dbReplies, replyGroup())).toBe('ok');

    expect(await produce(kafka, TOPICS.dbReplies)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produce(kafka, TOPICS.dbDeadLetter)).toBe('TOPIC_AUTHORIZATION_FAILED');
    // Only the DB processor's relay publishes auth events.
    expect(await produce(kafka, TOPICS.authEvents)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produce(kafka, TOPICS.authEventsDeadLetter)).toBe('TOPIC_AUTHORIZATION_FAILED');
    // Reading requests, in the DB processor's group or in one of its own.
    expect(await consume(kafka, TOPICS.dbRequests, DB_PROCESSOR_GROUP)).toBe('GROUP_AUTHORIZATION_FAILED');
    expect(await consume(kafka, TOPICS.dbRequests, replyGroup())).toBe('TOPIC_AUTHORIZATION_FAILED');
    // The audit lane: only the API writes audit rows; nobody but the DB processor reads them.
    expect(await produce(kafka, TOPICS.dbAudit)).toBe(role === 'api' ? 'ok' : 'TOPIC_AUTHORIZATION_FAILED');
    // (The worker may not even describe the audit topic, so its denial comes first.)
    expect(await consume(kafka, TOPICS.dbAudit, DB_PROCESSOR_AUDIT_GROUP)).toBe(role === 'api' ? 'GROUP_AUTHORIZATION_FAILED' : 'TOPIC_AUTHORIZATION_FAILED');
  });

  it('db-processor reads requests and writes replies, dead letters and auth events, and nothing else', async () => {
    const kafka = as('db-processor');
    expect(await produce(kafka, TOPICS.dbReplies)).toBe('ok');
    expect(await produce(kafka, TOPICS.dbDeadLetter)).toBe('ok');
    // An unsigned message: every consumer drops it (README "Auth events": verify before reading).
    expect(await produce(kafka, TOPICS.authEvents)).toBe('ok');
    expect(await produce(kafka, TOPICS.authEventsDeadLetter)).toBe('ok');

    expect(await produce(kafka, TOPICS.dbRequests)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produce(kafka, TOPICS.dbAudit)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await consume(kafka, TOPICS.dbReplies, replyGroup())).toBe('GROUP_AUTHORIZATION_FAILED');
  });

  it('a wrong password or no SASL is refused', async () => {
    const { username, password } = kafkaSasl(config, 'api') as { username: string; password: string };
    const scram = (u: string, p: string): SASLOptions => ({ mechanism: 'scram-sha-256', username: u, password: p });
    expect(await produce(client(scram(username, `${password}-wrong`)), TOPICS.dbRequests)).toBe('KafkaJSSASLAuthenticationError');
    expect(await produce(client(scram('cfd-nobody', password)), TOPICS.dbRequests)).toBe('KafkaJSSASLAuthenticationError');
    expect(await produce(client(undefined), TOPICS.dbRequests)).not.toBe('ok');
  });
});
