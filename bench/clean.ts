import { Connection } from '@temporalio/client';
import Redis from 'ioredis';
import { Client as PgClient } from 'pg';
import { createKafka, withAdmin } from '../common/kafka/client';
import { createLogger } from '../common/logger';
import { runToEnd } from '../testkit/supervisor';
import type { Bench } from './context';
import { startBatchTermination } from './infra';
import { TWIN_TOPIC_PREFIX } from './lib/twin';

/**
 * `npm run bench -- --clean`: removes what benchmark runs left behind, on this checkout's stack.
 * Every address a run uses is `b-<run>-…@bench.example.com` (context.ts), every task queue
 * `bench-<run>…`, and the peers live in their own database and Redis prefixes, so nothing of a
 * user's own signups is touched. Kafka: the twins' topics (`bench-*`) are deleted; the main bench
 * system's messages are on the stack's own topics, carry no personal data and age out with their
 * retention. Redis keys with a TTL
 * (codes, code mailboxes, the code digests) expire by themselves within the code lifetime.
 */
export const BENCH_EMAIL_DOMAIN = '@bench.example.com';

export async function cleanBench(ctx: Bench): Promise<string[]> {
  const done: string[] = [];
  const step = async (what: string, fn: () => Promise<string>) => {
    try {
      done.push(await fn());
    } catch (err) {
      done.push(`${what}: FAILED (${(err as Error).message})`);
    }
  };

  await step('workflows', async () => {
    const connection = await Connection.connect({ address: ctx.config.TEMPORAL_ADDRESS });
    try {
      const query = `TaskQueue STARTS_WITH 'bench-' AND ExecutionStatus = 'Running'`;
      const { count } = await connection.workflowService.countWorkflowExecutions({ namespace: ctx.config.TEMPORAL_NAMESPACE, query });
      if (Number(count) > 0) await startBatchTermination(connection, ctx.config.TEMPORAL_NAMESPACE, 'bench-clean', 'npm run bench -- --clean', query);
      return `workflows: ${count} running on bench-* task queues, batch termination ${Number(count) > 0 ? 'started' : 'not needed'}`;
    } finally {
      await connection.close();
    }
  });

  await step('users', async () => {
    const pg = new PgClient({ connectionString: ctx.config.DATABASE_URL });
    await pg.connect();
    try {
      const r = await pg.query(`DELETE FROM users WHERE email LIKE 'b-%' || $1`, [BENCH_EMAIL_DOMAIN]);
      return `users: ${r.rowCount} bench accounts deleted from ${new URL(ctx.config.DATABASE_URL).pathname.slice(1)}`;
    } finally {
      await pg.end();
    }
  });

  await step('peer database', async () => {
    const pg = new PgClient({ connectionString: ctx.benchDb });
    await pg.connect();
    try {
      const tables = await pg.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
      for (const { tablename } of tables.rows) await pg.query(`DROP TABLE IF EXISTS "${tablename.replace(/"/g, '""')}" CASCADE`);
      return `peer database ${new URL(ctx.benchDb).pathname.slice(1)}: ${tables.rowCount} tables dropped (the peers create theirs at start)`;
    } finally {
      await pg.end();
    }
  });

  await step('server-topology databases', async () => {
    // Only when its server is not running (scripts/stack.sh temporal-down at the end of each run).
    const db = new URL(ctx.benchDb).pathname.slice(1);
    const pg = new PgClient({ connectionString: ctx.config.DATABASE_URL });
    await pg.connect();
    try {
      const dropped: string[] = [];
      for (const name of [`${db}_temporal`, `${db}_temporal_visibility`]) {
        const exists = await pg.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (!exists.rowCount) continue;
        await pg.query(`DROP DATABASE "${name}"`);
        dropped.push(name);
      }
      return `server-topology databases: ${dropped.length ? `${dropped.join(', ')} dropped` : 'none'}`;
    } finally {
      await pg.end();
    }
  });

  await step('redis', async () => {
    const redis = new Redis(ctx.config.REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
    await redis.connect();
    try {
      let sessions = 0;
      let peerKeys = 0;
      // Our sessions of bench accounts (the profile holds the email), with their per-user index.
      for await (const keys of redis.scanStream({ match: 'sess:*', count: 500 }) as AsyncIterable<string[]>) {
        for (const key of keys) {
          const [uid, profile] = await redis.hmget(key, 'uid', 'profile');
          if (!profile || !(JSON.parse(profile) as { email?: string }).email?.endsWith(BENCH_EMAIL_DOMAIN)) continue;
          await redis.unlink(key, `usess:${uid}`);
          sessions += 1;
        }
      }
      // The peers' keys: the direct server's sessions and better-auth's secondary storage.
      for (const match of ['dsess:*', 'ba:*']) {
        for await (const keys of redis.scanStream({ match, count: 500 }) as AsyncIterable<string[]>) {
          if (keys.length) peerKeys += await redis.unlink(...keys);
        }
      }
      return `redis: ${sessions} bench sessions and ${peerKeys} peer keys removed`;
    } finally {
      redis.disconnect();
    }
  });

  await step('kafka topics', () =>
    withAdmin(createKafka(ctx.config, createLogger('bench-clean', 'warn'), 'admin'), async (admin) => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(TWIN_TOPIC_PREFIX));
      if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
      return `kafka topics: ${topics.length ? `${topics.length} twin topics deleted (${TWIN_TOPIC_PREFIX}*)` : 'no twin topics'}`;
    }));

  await step('maildev', async () => `maildev: ${await ctx.mail.deleteMatching(BENCH_EMAIL_DOMAIN, 120_000)} bench emails deleted`);

  await step('files', async () => {
    const r = await runToEnd('rm', ['-rf', ctx.tmp.replace(/\/[^/]+$/, '')], process.env, 60_000);
    return r.code === 0 ? 'files: bench/results/tmp/ removed (run logs and profiles)' : `files: rm failed: ${r.out}`;
  });
  return done;
}
