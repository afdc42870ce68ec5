import type { MikroORM } from '@mikro-orm/postgresql';

/**
 * Remembers the ids of authenticated requests in Postgres, shared by every DB-processor instance.
 * A message id is claimed (committed) before its handler runs, so it is acted on at most once even
 * when two instances receive copies at the same moment: the second insert waits for the first and
 * then finds the row. If an instance dies between claim and effect, the requester's deadline passes
 * and it retries with a new message (new id); creates are idempotent per signup reference, so the
 * retry is safe. Rows older than the freshness window are useless (stale messages are refused
 * before this check) and are purged.
 */
export class ReplayGuard {
  constructor(private readonly orm: MikroORM, private readonly maxAgeMs: number) {}

  /** true when this id was not seen before (and now is). */
  async claim(messageId: string, sentAt: number): Promise<boolean> {
    const res = await this.orm.em
      .fork()
      .getConnection()
      .execute('insert into kafka_seen_messages (message_id, sent_at) values (?, ?) on conflict (message_id) do nothing', [messageId, new Date(sentAt)], 'run');
    return (res as unknown as { affectedRows: number }).affectedRows === 1;
  }

  /** Deletes ids past the window (plus the allowed clock skew, which is the same window). */
  async purge(): Promise<number> {
    const res = await this.orm.em
      .fork()
      .getConnection()
      .execute('delete from kafka_seen_messages where sent_at < ?', [new Date(Date.now() - 2 * this.maxAgeMs)], 'run');
    return (res as unknown as { affectedRows: number }).affectedRows;
  }
}
