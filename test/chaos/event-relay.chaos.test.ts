/**
 * Chaos: the DB processor (whose outbox relay publishes auth events) as a real OS process, killed
 * with SIGKILL while it works through a backlog of committed events, then started again. Every
 * committed event reaches auth.events.v1; an event published twice (the kill fell between the
 * broker's acknowledgement and the commit that marks it sent) carries the same id and bytes.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { newAuthEvent, type AuthEvent } from '../../common/events/auth-events';
import { TOPICS } from '../../common/kafka/topics';
import { appendEvent } from '../../db-processor/outbox';
import { ormConfig } from '../../entities/mikro-orm.config';
import { testConfig } from '../../testkit/env';
import { loadStackEnv } from '../../testkit/stack';
import { freePort, REPO_ROOT, tsxProcess, type SupervisedProcess } from '../../testkit/supervisor';
import { eventually } from '../../testkit/wait';
import { rawKafka, tap } from '../support/kafka';

const N = Number(process.env.CHAOS_EVENTS_N ?? 2000);

describe('chaos: kill -9 of the relay mid-stream loses no event', () => {
  const stack = loadStackEnv();
  const config = testConfig({ DATABASE_URL: stack.DATABASE_URL, KAFKA_BROKERS: stack.KAFKA_BROKERS });
  let orm: MikroORM;
  let topic: Awaited<ReturnType<typeof tap>>;
  const procs: SupervisedProcess[] = [];

  beforeAll(async () => {
    orm = await MikroORM.init(ormConfig(config.DATABASE_URL, { pool: { min: 0, max: 2 } }));
    topic = await tap(rawKafka(config, 'relay-chaos'), TOPICS.authEvents);
  });
  afterAll(async () => {
    for (const p of procs) await p.stop(5_000);
    await topic?.consumer.disconnect();
    await orm?.close(true);
  });

  const dbProcessor = async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: stack.DATABASE_URL,
      REDIS_URL: stack.REDIS_URL,
      KAFKA_BROKERS: stack.KAFKA_BROKERS,
      DB_PROCESSOR_HEALTH_PORT: String(port),
      // Small batches: the kill lands between many publish/commit pairs.
      EVENT_RELAY_BATCH: '5',
    };
    const p = tsxProcess(`relay-chaos-${procs.length + 1}`, 'db-processor/main.ts', env, path.join(REPO_ROOT, '.data', 'chaos', 'logs', `relay-chaos-${Date.now()}.log`), {
      healthUrl: `http://127.0.0.1:${port}/health/ready`,
    });
    procs.push(p);
    return p.start();
  };
  const unsent = async (ids: string[]) => Number((await orm.em.fork().execute('select count(*)::int as n from outbox where sent_at is null and event_id in (?)', [ids]))[0].n);

  it(`${N} committed events: SIGKILL mid-stream, restart, every one published, duplicates identical`, async () => {
    const events: AuthEvent[] = Array.from({ length: N }, () => newAuthEvent({ type: 'session.created', userId: randomUUID(), data: { origin: 'signin' } }));
    const ids = events.map((e) => e.eventId);
    const mine = new Set(ids);
    const copies = () => topic.seen.filter((m) => mine.has(m.headers['x-event-id']));
    for (let i = 0; i < N; i += 500) {
      await orm.em.fork().transactional(async (tx) => {
        for (const e of events.slice(i, i + 500)) await appendEvent(tx, e);
      });
    }

    const first = await dbProcessor();
    // Mid-stream: some of the backlog is out, some is not.
    await eventually(async () => (N - (await unsent(ids)) >= N / 10 ? true : undefined), 120_000, 'the relay under way', 20);
    first.kill9();
    expect(await first.exited(10_000)).toBe(true);
    const leftAtKill = await unsent(ids);
    expect(leftAtKill).toBeGreaterThan(0);

    const second = await dbProcessor();
    await eventually(async () => ((await unsent(ids)) === 0 ? true : undefined), 120_000, 'the backlog relayed after the restart', 100);
    await eventually(async () => (new Set(copies().map((m) => m.headers['x-event-id'])).size === N ? true : undefined), 60_000, 'every event on the topic');
    await second.stop();

    const byId = new Map<string, Buffer[]>();
    for (const m of copies()) byId.set(m.headers['x-event-id'], [...(byId.get(m.headers['x-event-id']) ?? []), m.value!]);
    expect([...byId.keys()].sort()).toEqual([...ids].sort());
    let duplicates = 0;
    for (const [id, values] of byId) {
      duplicates += values.length - 1;
      for (const v of values) expect({ id, same: v.equals(values[0]), eventId: JSON.parse(v.toString('utf8')).eventId }).toEqual({ id, same: true, eventId: id });
    }
    process.stdout.write(`relay chaos: ${N} events, ${leftAtKill} unsent at the kill, ${duplicates} published twice, none lost\n`);
  }, 300_000);
});
