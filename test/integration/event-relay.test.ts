/**
 * The outbox relay against the real Postgres and Kafka, with a fault injected around the real
 * producer: a failure before the broker has a batch (Kafka down, a crash before sending) marks
 * nothing sent, and a crash after the broker has it but before the rows are marked sent makes the
 * next relay publish the same events again, with the same ids and bytes. Nothing is lost.
 * (test/chaos/event-relay.chaos.test.ts kills a real DB processor with SIGKILL mid-stream.)
 */
import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Producer } from 'kafkajs';
import { newAuthEvent, type AuthEvent } from '../../common/events/auth-events';
import { EventSigner } from '../../common/events/event-signing';
import { createKafka } from '../../common/kafka/client';
import { TOPICS } from '../../common/kafka/topics';
import { EventRelay } from '../../db-processor/event-relay';
import { appendEvent } from '../../db-processor/outbox';
import { ormConfig } from '../../entities/mikro-orm.config';
import { quietLogger, testConfig } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';
import { rawKafka, tap } from '../support/kafka';

describe('outbox relay: at least once, never lost, duplicates keep their event id', () => {
  const config = testConfig();
  const logger = quietLogger();
  let orm: MikroORM;
  let producer: Producer;
  let topic: Awaited<ReturnType<typeof tap>>;
  const signer = EventSigner.fromConfig(config);
  const opts = { intervalMs: 50, batch: 100, sentRetentionS: 3600 };

  beforeAll(async () => {
    orm = await MikroORM.init(ormConfig(config.DATABASE_URL, { pool: { min: 0, max: 4 } }));
    producer = createKafka(config, logger, 'db-processor').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    topic = await tap(rawKafka(config, 'event-relay'), TOPICS.authEvents);
  });
  afterAll(async () => {
    await topic?.consumer.disconnect();
    await producer?.disconnect();
    await orm?.close(true);
  });

  /** Commits `n` events as the DB processor's handlers do (in one transaction). */
  async function commitEvents(n: number): Promise<AuthEvent[]> {
    const events = Array.from({ length: n }, () => newAuthEvent({ type: 'password.changed', userId: randomUUID(), data: {} }));
    await orm.em.fork().transactional(async (tx) => {
      for (const e of events) await appendEvent(tx, e);
    });
    return events;
  }
  const unsent = async (events: AuthEvent[]) =>
    Number((await orm.em.fork().execute('select count(*)::int as n from outbox where sent_at is null and event_id in (?)', [events.map((e) => e.eventId)]))[0].n);
  /** Runs a relay until none of `events` is unsent (another relay may hold the lock for a moment). */
  const relayAll = (relay: EventRelay, events: AuthEvent[]) =>
    eventually(async () => {
      await relay.relayOnce();
      return (await unsent(events)) === 0 ? true : undefined;
    }, 30_000, 'every event relayed', 50);
  const copies = (events: AuthEvent[]) => {
    const ids = new Set(events.map((e) => e.eventId));
    return topic.seen.filter((m) => ids.has(m.headers['x-event-id']));
  };
  /** The real producer, with a fault before or after it sends. */
  const faulty = (when: 'before' | 'after'): Producer =>
    ({
      sendBatch: async (batch: Parameters<Producer['sendBatch']>[0]) => {
        if (when === 'before') throw new Error('injected: the broker is unreachable');
        await producer.sendBatch(batch);
        throw new Error('injected: the relay died before marking the batch sent');
      },
    }) as unknown as Producer;

  it('a batch the broker never got stays unsent, and the next relay publishes each event once', async () => {
    const events = await commitEvents(12);
    const broken = new EventRelay(orm, faulty('before'), signer, logger, opts);
    await eventually(async () => ((await broken.relayOnce().then(() => false, () => true)) ? true : undefined), 30_000, 'the failing attempt');
    expect(await unsent(events)).toBe(12);

    await relayAll(new EventRelay(orm, producer, signer, logger, opts), events);
    await eventually(async () => (copies(events).length >= 12 ? true : undefined), 30_000, 'all 12 on the topic');
    expect(copies(events).map((m) => m.headers['x-event-id']).sort()).toEqual(events.map((e) => e.eventId).sort());
  });

  it('a relay that dies after publishing leaves the rows unsent: they are published again with the same ids and bytes', async () => {
    const events = await commitEvents(12);
    const dying = new EventRelay(orm, faulty('after'), signer, logger, opts);
    const published = () => new Set(copies(events).map((m) => m.headers['x-event-id'])).size;
    // Until the broker has every event (the tap needs a moment to see them, so a batch may go out more than once).
    await eventually(async () => {
      if (published() === 12) return true;
      await dying.relayOnce().catch(() => undefined);
      await sleep(300);
      return undefined;
    }, 30_000, 'a published, unmarked batch');
    expect(await unsent(events)).toBe(12);
    const before = copies(events).length;

    await relayAll(new EventRelay(orm, producer, signer, logger, opts), events);
    await eventually(async () => (copies(events).length >= before + 12 ? true : undefined), 30_000, 'the copies of the next relay');
    expect(await unsent(events)).toBe(0);
    for (const e of events) {
      const mine = copies(events).filter((m) => m.headers['x-event-id'] === e.eventId);
      expect(mine.length).toBeGreaterThanOrEqual(2);
      for (const copy of mine) {
        expect(copy.value!.equals(mine[0].value!)).toBe(true);
        expect(copy.headers).toEqual(mine[0].headers);
      }
      expect(JSON.parse(mine[0].value!.toString('utf8')).eventId).toBe(e.eventId);
    }
  });
});
