import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { MikroORM } from '@mikro-orm/postgresql';
import Redis from 'ioredis';
import { Partitioners } from 'kafkajs';
import { createKafka } from '../../common/kafka/client';
import { createMailer } from '../../common/mailer';
import { ormConfig } from '../../entities/mikro-orm.config';
import { ALL_SEARCH_ATTRIBUTES } from '../../temporal-config/dev-server';
import { connectionOptions } from '../../temporal-config/connection';
import { installQuietRuntime, quietLogger, testConfig, uniqueEmail } from '../../testkit/env';
import { waitForMail } from '../../testkit/maildev';

const config = testConfig();

describe('every service of the stack answers for real', () => {
  it('Postgres: MikroORM connects and the migrations are applied', async () => {
    const orm = await MikroORM.init(ormConfig(config.DATABASE_URL));
    try {
      expect(await orm.isConnected()).toBe(true);
      expect(await orm.getMigrator().getPendingMigrations()).toEqual([]);
      const cols = await orm.em.getConnection().execute("select column_name from information_schema.columns where table_name = 'users'");
      expect(cols.map((c) => String(c.column_name))).toEqual(expect.arrayContaining(['id', 'email', 'password_hash', 'signup_ref']));
    } finally {
      await orm.close(true);
    }
  });

  it('Redis: set, get and TTL', async () => {
    const redis = new Redis(config.REDIS_URL);
    try {
      const key = `smoke:${randomUUID()}`;
      await redis.set(key, 'v', 'PX', 5000);
      expect(await redis.get(key)).toBe('v');
      expect(await redis.pttl(key)).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });

  it('Kafka: a message produced on a test topic is consumed', async () => {
    const kafka = createKafka(config, quietLogger(), 'admin', 'smoke');
    const topic = `smoke.${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
    try {
      await producer.connect();
      await consumer.connect();
      const value = randomUUID();
      await producer.send({ topic, messages: [{ value }] });
      await consumer.subscribe({ topic, fromBeginning: true });
      const got = await new Promise<string>((resolve) => {
        consumer.run({ eachMessage: async ({ message }) => resolve(message.value!.toString()) });
      });
      expect(got).toBe(value);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('Temporal: a worker on its own task queue runs a workflow to completion, and the search attributes exist', async () => {
    installQuietRuntime();
    const taskQueue = `smoke-${randomUUID()}`;
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./smoke.workflow'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
    const nativeConnection = await NativeConnection.connect(connectionOptions(config));
    const worker = await Worker.create({ connection: nativeConnection, namespace: config.TEMPORAL_NAMESPACE, taskQueue, workflowBundle });
    const connection = await Connection.connect(connectionOptions(config));
    try {
      const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
      const result = await worker.runUntil(client.workflow.execute('smokeWorkflow', { taskQueue, workflowId: `smoke-${randomUUID()}`, args: ['stack'] }));
      expect(result).toBe('hello stack');
      const attrs = await connection.operatorService.listSearchAttributes({ namespace: config.TEMPORAL_NAMESPACE });
      for (const a of ALL_SEARCH_ATTRIBUTES) expect(Object.keys(attrs.customAttributes ?? {})).toContain(a.name);
    } finally {
      await connection.close();
      await nativeConnection.close();
    }
  });

  it('SMTP: nodemailer sends a mail that MailDev hands back', async () => {
    const mailer = createMailer(config);
    const to = uniqueEmail('smoke');
    try {
      await mailer.transport.sendMail({ from: mailer.from, to, subject: 'smoke', text: 'smoke body' });
      const mail = await waitForMail(to);
      expect(mail.subject).toBe('smoke');
      expect(mail.text.trim()).toBe('smoke body');
    } finally {
      mailer.transport.close();
    }
  });
});
