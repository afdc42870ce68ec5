import type { MikroORM } from '@mikro-orm/postgresql';
import type { Producer } from 'kafkajs';
import { AuthEvent } from '../common/events/auth-events';
import type { EventSigner } from '../common/events/event-signing';
import type { Logger } from '../common/logger';
import { metrics } from '../common/metrics';
import { TOPICS } from '../common/kafka/topics';
import { untraced } from '../common/tracing';
import { safeDbError } from './safe-db-error';

/** The advisory lock one relay holds while it publishes a batch (any constant of this table's own). */
const RELAY_LOCK = 7_311_204_001;

interface OutboxRow {
  id: string;
  event_id: string;
  message_key: string;
  payload: unknown;
}

export interface RelayOptions {
  intervalMs: number;
  batch: number;
  sentRetentionS: number;
}

/**
 * Publishes committed outbox rows to Kafka, at least once, in the order they were committed per
 * user. One transaction per batch: take the relay lock (another instance holding it skips its
 * turn), read the oldest unsent rows, publish them and wait for the broker's acknowledgement
 * (acks=-1), then mark them sent and commit. A crash anywhere before that commit leaves the rows
 * unsent: the next relay publishes them again with the same event id and the same bytes. Rows are
 * marked sent only after the broker has them, so none is lost.
 *
 * One relay at a time (the advisory lock) rather than several with SKIP LOCKED: two relays taking
 * interleaved batches could publish a user's later event before an earlier one.
 */
export class EventRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private lastPurge = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly producer: Producer,
    private readonly signer: EventSigner,
    private readonly logger: Logger,
    private readonly opts: RelayOptions,
  ) {}

  start(): void {
    // Not traced: an idle turn every second would be a root trace of its own (common/tracing.ts).
    const tick = () => untraced(async () => {
      let published = 0;
      try {
        published = await this.relayOnce();
        await this.purgeSent();
      } catch (err) {
        this.logger.warn({ err: safeDbError(err) }, 'event relay: batch not published; retrying');
      }
      if (this.stopped) return;
      // A full batch means more may be waiting: go again at once.
      this.timer = setTimeout(() => (this.running = tick()), published >= this.opts.batch ? 0 : this.opts.intervalMs);
    });
    this.running = tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Publishes one batch; returns how many rows it published (0 when another relay holds the lock). */
  async relayOnce(): Promise<number> {
    return this.orm.em.fork().transactional(async (tx) => {
      const [{ locked }] = await tx.execute<{ locked: boolean }[]>('select pg_try_advisory_xact_lock(?) as locked', [RELAY_LOCK]);
      if (!locked) return 0;
      const rows = await tx.execute<OutboxRow[]>(
        'select "id", "event_id", "message_key", "payload" from "outbox" where "sent_at" is null order by "id" limit ?',
        [this.opts.batch],
      );
      if (rows.length === 0) return 0;
      const events: { key: string; value: string; headers: Record<string, string> }[] = [];
      const dead: { key: string; value: string; headers: Record<string, string> }[] = [];
      for (const row of rows) {
        const parsed = AuthEvent.safeParse(row.payload);
        if (parsed.success) {
          const value = JSON.stringify(parsed.data);
          events.push({ key: row.message_key, value, headers: this.signer.sign(TOPICS.authEvents, row.message_key, value, parsed.data.eventId) });
        } else {
          // Never expected (rows are parsed before they are written); kept for inspection, not retried forever.
          dead.push({ key: row.message_key, value: JSON.stringify(row.payload), headers: { 'x-dlq-reason': 'invalid_event', 'x-event-id': row.event_id } });
        }
      }
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [
          ...(events.length ? [{ topic: TOPICS.authEvents, messages: events }] : []),
          ...(dead.length ? [{ topic: TOPICS.authEventsDeadLetter, messages: dead }] : []),
        ],
      });
      if (dead.length) this.logger.warn({ count: dead.length }, 'event relay: outbox rows dead-lettered');
      await tx.execute('update "outbox" set "sent_at" = now() where "id" in (?)', [rows.map((r) => r.id)], 'run');
      metrics.authEventsPublished.inc(events.length);
      return rows.length;
    });
  }

  /** The backlog for the gauges: rows not yet sent, and how long the oldest has waited. */
  async backlog(): Promise<{ unsent: number; oldestUnsentSeconds: number }> {
    const [row] = await this.orm.em
      .fork()
      .execute<{ unsent: number; oldest: number | null }[]>(
        'select count(*)::int as "unsent", extract(epoch from now() - min("created_at"))::float8 as "oldest" from "outbox" where "sent_at" is null',
      );
    return { unsent: Number(row.unsent), oldestUnsentSeconds: Math.max(0, Number(row.oldest ?? 0)) };
  }

  /** Sent rows are kept a while (inspection, a consumer asking "was it sent?"), then deleted. */
  private async purgeSent(): Promise<void> {
    if (Date.now() - this.lastPurge < 60_000) return;
    this.lastPurge = Date.now();
    await this.orm.em
      .fork()
      .execute('delete from "outbox" where "sent_at" < ?', [new Date(Date.now() - this.opts.sentRetentionS * 1000)], 'run');
  }
}
