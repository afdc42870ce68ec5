/**
 * `npm run bench -- --clean` (bench/clean.ts, README "Benchmark"): removes what benchmark runs left
 * on the stack, and nothing of anyone else's. Each kind of leftover is made here as a run makes it
 * (a bench address `b-<run>-…@bench.example.com`, a `bench-…` task queue and twin topic, the peers'
 * tables and Redis keys, the server topology's databases, the run folder), next to a look-alike that
 * is not the bench's; after the clean every leftover is gone and every look-alike is still there.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection, WorkflowClient } from '@temporalio/client';
import Redis from 'ioredis';
import nodemailer from 'nodemailer';
import { Client as PgClient } from 'pg';
import { cleanBench } from '../../bench/clean';
import type { Bench } from '../../bench/context';
import { loadConfig } from '../../common/config';
import { createKafka } from '../../common/kafka/client';
import { MailDev } from '../../testkit/maildev';
import { quietLogger } from '../../testkit/env';
import { waitUntil } from '../../testkit/wait';

const config = loadConfig();
const run = randomUUID().slice(0, 6);
const benchEmail = `b-${run}-signup-1@bench.example.com`;
const ownEmail = `b-${run}-signup-1@example.com`;
const benchQueue = `bench-${run}`;
const ownQueue = `not-bench-${run}`;
const benchTopic = `bench-${run}-auth.db.requests.v1`;
const ownTopic = `clean-test-${run}`;
/** A database of its own for the peers' tables and the topology's databases (`<db>_temporal*`). */
const peerDb = `cfd_auth_cleantest_${run}`;
const dbUrl = (name: string) => config.DATABASE_URL.replace(/\/[^/?]+(\?|$)/, `/${name}$1`);

describe('npm run bench -- --clean', () => {
  const mail = new MailDev();
  const redis = new Redis(config.REDIS_URL);
  const pg = new PgClient({ connectionString: config.DATABASE_URL });
  const kafka = createKafka(config, quietLogger(), 'admin');
  const admin = kafka.admin();
  let connection: Connection;
  let workflows: WorkflowClient;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-clean-'));
  const tmp = path.join(dir, 'tmp', run);
  const ids = { benchUser: randomUUID(), ownUser: randomUUID(), benchWf: `wf-${run}-bench`, ownWf: `wf-${run}-own` };

  beforeAll(async () => {
    await pg.connect();
    await admin.connect();
    connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    workflows = new WorkflowClient({ connection, namespace: config.TEMPORAL_NAMESPACE });
  });

  afterAll(async () => {
    await workflows.getHandle(ids.ownWf).terminate('test over').catch(() => undefined);
    await pg.query('DELETE FROM users WHERE id = ANY($1)', [[ids.benchUser, ids.ownUser]]);
    for (const name of [peerDb, `${peerDb}_temporal`, `${peerDb}_temporal_visibility`]) await pg.query(`DROP DATABASE IF EXISTS "${name}"`);
    await redis.unlink(`sess:${run}-own`, `usess:${ids.ownUser}`, `notpeer:${run}`);
    await admin.deleteTopics({ topics: [ownTopic], timeout: 30_000 }).catch(() => undefined);
    await mail.deleteMatching(run);
    await Promise.all([admin.disconnect(), connection.close(), pg.end()]);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes every leftover of a run and nothing else', async () => {
    // Accounts: one of a bench run, one whose address only looks like it.
    const user = 'INSERT INTO users (id, email, name, password_hash, email_verified_at, signup_ref, created_at, updated_at) VALUES ($1, $2, $3, $4, now(), $5, now(), now())';
    await pg.query(user, [ids.benchUser, benchEmail, 'Bench', 'x', `ref-${run}-b`]);
    await pg.query(user, [ids.ownUser, ownEmail, 'Own', 'x', `ref-${run}-o`]);
    // The peers' database with a table in it, and the server topology's two databases.
    for (const name of [peerDb, `${peerDb}_temporal`, `${peerDb}_temporal_visibility`]) await pg.query(`CREATE DATABASE "${name}"`);
    const peers = new PgClient({ connectionString: dbUrl(peerDb) });
    await peers.connect();
    await peers.query('CREATE TABLE peer_users (id int)');
    await peers.end();
    // Sessions (the profile holds the email) with their per-user index, and the peers' keys.
    await redis.hset(`sess:${run}-bench`, { uid: ids.benchUser, profile: JSON.stringify({ email: benchEmail }) });
    await redis.sadd(`usess:${ids.benchUser}`, `${run}-bench`);
    await redis.hset(`sess:${run}-own`, { uid: ids.ownUser, profile: JSON.stringify({ email: ownEmail }) });
    await redis.sadd(`usess:${ids.ownUser}`, `${run}-own`);
    await redis.set(`dsess:${run}`, '1');
    await redis.set(`ba:${run}`, '1');
    await redis.set(`notpeer:${run}`, '1');
    // A twin's topic and one that is not.
    await admin.createTopics({ topics: [{ topic: benchTopic }, { topic: ownTopic }], waitForLeaders: true });
    // Workflows left running: nothing polls these queues, so they stay open until terminated.
    for (const [workflowId, taskQueue] of [[ids.benchWf, benchQueue], [ids.ownWf, ownQueue]]) {
      await workflows.start('benchCleanProbe', { workflowId, taskQueue });
    }
    // Mail to the bench address and to the look-alike.
    const smtp = nodemailer.createTransport(config.SMTP_URL);
    for (const to of [benchEmail, ownEmail]) await smtp.sendMail({ from: 'bench@example.com', to, subject: `clean ${run}`, text: run });
    smtp.close();
    // The run's folder (logs, profiles).
    mkdirSync(tmp, { recursive: true });
    writeFileSync(path.join(tmp, 'api.log'), 'log');

    // The clean finds the workflows through visibility: wait until it lists the bench one.
    const listed = { namespace: config.TEMPORAL_NAMESPACE, query: `TaskQueue = '${benchQueue}'` };
    expect(await waitUntil(async () => Number((await connection.workflowService.countWorkflowExecutions(listed)).count) === 1, 20_000)).toBe(true);
    expect(await waitUntil(async () => (await mail.list(run)).length === 2, 20_000)).toBe(true);

    const ctx = { config, benchDb: dbUrl(peerDb), mail, tmp } as unknown as Bench;
    const report = await cleanBench(ctx);
    expect(report.filter((line) => line.includes('FAILED'))).toEqual([]);

    // Gone: the bench account, its session and index, the peers' keys and tables, the topology's
    // databases, the twin topic, the mail to the bench address, the run folder, the workflow.
    expect((await pg.query('SELECT id FROM users WHERE id = ANY($1)', [[ids.benchUser, ids.ownUser]])).rows).toEqual([{ id: ids.ownUser }]);
    expect(await redis.exists(`sess:${run}-bench`, `usess:${ids.benchUser}`, `dsess:${run}`, `ba:${run}`)).toBe(0);
    const peersAfter = new PgClient({ connectionString: dbUrl(peerDb) });
    await peersAfter.connect();
    expect((await peersAfter.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).rows).toEqual([]);
    await peersAfter.end();
    const dbs = await pg.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${peerDb}%`]);
    expect(dbs.rows.map((r) => r.datname)).toEqual([peerDb]);
    const topics = await admin.listTopics();
    expect(topics).not.toContain(benchTopic);
    expect(topics).toContain(ownTopic);
    expect((await mail.list(run)).map((m) => m.to)).toEqual([ownEmail]);
    expect(existsSync(path.join(dir, 'tmp'))).toBe(false);
    expect(existsSync(dir)).toBe(true);
    // The termination is a batch operation: it completes shortly after the clean returns.
    const statusOf = async (id: string) => (await workflows.getHandle(id).describe()).status.name;
    await waitUntil(async () => (await statusOf(ids.benchWf)) !== 'RUNNING', 30_000);
    expect(await statusOf(ids.benchWf)).toBe('TERMINATED');

    // Still there: the look-alikes.
    expect(await redis.exists(`sess:${run}-own`, `usess:${ids.ownUser}`, `notpeer:${run}`)).toBe(3);
    expect(await statusOf(ids.ownWf)).toBe('RUNNING');
  }, 300_000); // the clean waits for a batch operation an earlier run left running (one at a time)
});
