/**
 * The audit lane (README "Kafka request/reply and scaling"): audit rows travel on a topic of their
 * own, read by a consumer of its own, so a sign-in's lookup never waits behind an audit write. On
 * one shared topic it did: a kafkajs consumer fetches again only once every message of its last
 * fetch is handled, so one slow audit write held back every request that arrived after it.
 *
 * The slow write is made real: the test holds an exclusive lock on the outbox, so the DB processor's
 * `audit.record` of a failed sign-in (its audit row, then its auth event in the outbox, in one
 * transaction) waits in Postgres. (audit_event itself cannot be locked: no role may update, delete
 * or truncate it.) A sign-in meanwhile must be answered; once the lock goes, the held rows are
 * written, each once.
 */
import { Client as PgClient } from 'pg';
import { createAccount } from '../../testkit/accounts';
import { withDb } from '../../testkit/db';
import { fromNewSource } from '../../testkit/http';
import { useSystem, type System } from '../../testkit/system';
import { eventually } from '../../testkit/wait';

const PASSWORD = 'an audited lane passphrase';

describe('audit lane', () => {
  let sys: System;
  useSystem({}, (started) => {
    sys = started;
  });
  const sql = (q: string, params: unknown[] = []) => withDb(sys.config.DATABASE_URL, (run) => run(q, params));
  /** Sessions of our role whose insert into the outbox waits for a lock (the relay's reads do not count). */
  const auditWritesWaiting = async () =>
    Number((await sql(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'insert into "outbox"%'`))[0].n);

  it('a sign-in is answered while an audit write is stuck, and the held audit rows are written once it is freed', async () => {
    const owner = await createAccount(sys.apiUrl, 'audit-lane', PASSWORD);
    const uid = owner.user.id;
    const locker = new PgClient({ connectionString: sys.config.DATABASE_URL });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table outbox in exclusive mode');
      // A wrong password: its audit row and event (signin.failed) are sent after the answer, and wait.
      expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: 'not the lane passphrase' })).status).toBe(401);
      await eventually(async () => ((await auditWritesWaiting()) > 0 ? true : undefined), 10_000, 'the audit write waiting on the lock');

      // The lookup behind this sign-in must not queue behind the stuck audit write.
      const device = fromNewSource(sys.apiUrl);
      const signin = await device.post('/signin', { email: owner.email, password: PASSWORD });
      expect(signin.status).toBe(200);
      expect(await auditWritesWaiting()).toBeGreaterThan(0);
    } finally {
      await locker.query('commit').catch(() => undefined);
      await locker.end();
    }

    const rows = await eventually(async () => {
      const r = await sql(`select action from audit_event where subject_user_id = ? and action in ('signin.failed', 'session.created') order by action`, [uid]);
      return r.length >= 3 ? r : undefined;
    }, 30_000, 'the held audit rows');
    // The verify's session, the failed sign-in and the sign-in's session: each once.
    expect(rows.map((r) => r.action)).toEqual(['session.created', 'session.created', 'signin.failed']);
  });
});
