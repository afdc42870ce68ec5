/**
 * Every Kafka consumer heals after a crash that kafkajs itself would not restart: the
 * non-retriable one seen in the field right after a broker restart ("Failed to find group
 * coordinator"). The crash is forced on the real broker by making one eachMessage call of the
 * real consumer throw that error; the consumer must come back by itself, rejoin its group and
 * serve requests again. A consumer that cannot rejoin within its bound fails liveness.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, KafkaJSNonRetriableError, logLevel, Partitioners, type Consumer, type ConsumerConfig, type ConsumerRunConfig } from 'kafkajs';
import pino from 'pino';
import { createKafka } from '../../common/kafka/client';
import { kafkaSasl } from '../../common/kafka/identity';
import { SupervisedConsumer, supervisedConsumerConfig } from '../../common/kafka/supervised-consumer';
import { DB_PROCESSOR_GROUP, TOPICS } from '../../common/kafka/topics';
import { freePort } from '../../testkit/supervisor';
import { testConfig, uniqueEmail } from '../../testkit/env';
import { eventually } from '../../testkit/wait';
import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';

/** Consumers whose next eachMessage call throws the coordinator error, by group id prefix. */
const armed = new Set<string>();
const original = Kafka.prototype.consumer;
jest.spyOn(Kafka.prototype, 'consumer').mockImplementation(function (this: Kafka, config: ConsumerConfig) {
  const consumer: Consumer = original.call(this, config);
  const run = consumer.run.bind(consumer);
  consumer.run = (cfg?: ConsumerRunConfig) =>
    run({
      ...cfg,
      eachMessage: async (payload) => {
        const key = [...armed].find((prefix) => config.groupId.startsWith(prefix));
        if (key) {
          armed.delete(key);
          throw new KafkaJSNonRetriableError('Failed to find group coordinator (injected by the test)');
        }
        await cfg!.eachMessage!(payload);
      },
    });
  return consumer;
});

const lines: string[] = [];
const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
const restartLines = (consumer: string) =>
  lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'kafka consumer crashed; restarting it' && l.consumer === consumer);

async function health(port: number, path: '/health/ready' | '/health/live') {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as { status: string; dependencies?: Record<string, string> } };
}

describe('Kafka consumers heal after a non-retriable crash', () => {
  const clientId = `heal-${randomUUID().slice(0, 8)}`;
  let sys: System;
  let kafka: Kafka;

  beforeAll(async () => {
    sys = await startSystem({ env: { KAFKA_CLIENT_ID: clientId }, logger });
    kafka = createKafka(sys.config, pino({ level: 'silent' }), 'admin', `${clientId}-test`);
  });
  afterAll(async () => {
    await sys?.close();
  });

  /** A full signup → verify → sign-in through the API: needs every consumer working. */
  async function signupVerifySignin(tag: string) {
    const api = new ApiClient(sys.apiUrl);
    const email = uniqueEmail(tag);
    const password = 'a sturdy test passphrase';
    expect((await api.post('/signup', { email })).status).toBe(202);
    const otp = await waitForCode(email, 1, 60_000);
    expect((await api.post('/verify', { email, otp, password, name: 'Healed' })).status).toBe(201);
    const signin = await eventually(async () => {
      const r = await new ApiClient(sys.apiUrl).post('/signin', { email, password });
      return r.status === 200 ? r : undefined;
    }, 30_000, 'sign-in');
    expect(signin.status).toBe(200);
  }

  async function ourMemberInGroup(): Promise<boolean> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([DB_PROCESSOR_GROUP]);
      return groups[0].state === 'Stable' && groups[0].members.some((m) => m.clientId === `${clientId}-db-processor`);
    } finally {
      await admin.disconnect();
    }
  }

  it("the DB processor's request consumer restarts by itself, rejoins its group and serves requests again", async () => {
    const port = sys.dbProcessor!.healthPort;
    expect((await health(port, '/health/ready')).status).toBe(200);
    armed.add(DB_PROCESSOR_GROUP);
    // One harmless message per partition, so whichever partitions are ours, one reaches our consumer.
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: TOPICS.dbRequests, messages: Array.from({ length: 6 }, (_, partition) => ({ partition, value: '{}' })) });
    await producer.disconnect();

    await eventually(async () => (armed.has(DB_PROCESSOR_GROUP) ? undefined : true), 30_000, 'the injected crash');
    await eventually(async () => (restartLines('db-requests').length >= 1 ? true : undefined), 10_000, 'one restart log line');
    await eventually(async () => ((await health(port, '/health/ready')).status === 200 ? true : undefined), 60_000, 'ready again');
    await eventually(async () => ((await ourMemberInGroup()) ? true : undefined), 30_000, 'our member back in the group');
    expect((await health(port, '/health/live')).status).toBe(200);
    await signupVerifySignin('heal-dbp');
  });

  it("the API's and the worker's reply consumers restart by themselves and sign-in works again", async () => {
    armed.add('auth-replies.api.');
    armed.add('auth-replies.worker.');
    const before = restartLines('replies').length;
    // The signup's email check and the sign-in both travel through the reply consumers.
    await signupVerifySignin('heal-replies');
    expect(armed.size).toBe(0);
    expect(restartLines('replies').length).toBeGreaterThanOrEqual(before + 2);
    expect((await health(sys.api.port, '/health/ready')).status).toBe(200);
    expect((await health(sys.worker!.healthPort, '/health/live')).status).toBe(200);
  });

  it('a consumer that cannot rejoin within its bound fails liveness, and is live again once it rejoins', async () => {
    const config = testConfig();
    let brokers = config.KAFKA_BROKERS;
    const deadPort = await freePort();
    const groupId = `heal-bound.${randomUUID()}`;
    const consumerConfig = supervisedConsumerConfig({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    const consumer = new SupervisedConsumer({
      name: 'bound-test',
      create: () =>
        new Kafka({ clientId, brokers, sasl: kafkaSasl(sys.config, 'admin'), logLevel: logLevel.NOTHING, connectionTimeout: 500, retry: { retries: 0 } }).consumer(consumerConfig),
      logger,
      rejoinBoundMs: 1_500,
      sessionTimeoutMs: 10_000,
      backoff: { initialMs: 100, maxMs: 400 },
    });
    await consumer.subscribe({ topic: TOPICS.dbReplies, fromBeginning: false });
    await consumer.run({ eachMessage: async () => undefined });
    try {
      expect(consumer.isReady).toBe(true);
      // From now on every rebuilt consumer meets an unreachable broker.
      brokers = [`127.0.0.1:${deadPort}`];
      armed.add(groupId);
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic: TOPICS.dbReplies, messages: [{ key: groupId, value: '{}' }] });
      await producer.disconnect();
      await eventually(async () => (consumer.isReady ? undefined : true), 30_000, 'out of the group');
      expect(consumer.isLive).toBe(true);
      await eventually(async () => (consumer.isLive ? undefined : true), 30_000, 'liveness to fail');
      expect(consumer.restartCount).toBeGreaterThan(1);

      brokers = config.KAFKA_BROKERS;
      await eventually(async () => (consumer.isReady && consumer.isLive ? true : undefined), 60_000, 'back in the group and live');
    } finally {
      await consumer.disconnect();
    }
  });
});
