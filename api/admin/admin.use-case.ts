import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { emailHash, type Keys } from '../../common/crypto';
import { AppError, unavailable } from '../../common/errors';
import { RequestTimeoutError, type KafkaRequester } from '../../common/kafka/request-reply';
import type { RequestPayload, RequestResult, RequestType } from '../../common/kafka/messages';
import type { RateLimits } from '../security/rate-limits';
import type { SessionStore } from '../sessions/session.store';
import type { RequestContext } from '../use-cases/context';
import type { AdminCaller } from './admin-token';
import type { AuditQuery } from './admin.schemas';

export interface AdminDeps {
  requester: KafkaRequester;
  sessions: SessionStore;
  limits: RateLimits;
  keys: Keys;
  /** A fresh EntityManager for reading the audit trail (the API never writes it directly). */
  em: () => EntityManager;
}

/** A page's last row: its time to the microsecond, as Postgres wrote it (see `position` below), and its id. */
const Position = z.object({ t: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/), id: z.guid() }).strict();

function encodeCursor(p: z.infer<typeof Position>): string {
  return Buffer.from(JSON.stringify(p), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): z.infer<typeof Position> {
  try {
    const parsed = Position.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    // A real time (no 30 February): Date keeps it to the millisecond when it exists.
    if (parsed.success && new Date(parsed.data.t).toISOString().slice(0, 23) === parsed.data.t.slice(0, 23)) return parsed.data;
  } catch {
    // not JSON: refused below
  }
  // Not VALIDATION_FAILED: a cursor of the right alphabet is well-formed, only the listing knows whether it gave it out.
  throw new AppError('INVALID_CURSOR');
}

interface AuditRow {
  id: string;
  occurred_at: Date;
  /** occurred_at to the microsecond, as the next page's position. */
  position: string;
  actor: string;
  action: string;
  subject_user_id: string | null;
  request_id: string | null;
  source_ip: string | null;
  outcome: 'success' | 'failure' | 'refused';
}

/**
 * What an operator can see and do (api/admin): an account's state, factors, sessions and locks;
 * the audit trail; revoking sessions; locking and unlocking. Changes of the user row go through the
 * DB processor like every other change; sessions live in Redis and are revoked here.
 */
export function createAdminUseCases(deps: AdminDeps) {
  const { requester, sessions, limits, keys } = deps;

  async function db<T extends RequestType>(type: T, payload: RequestPayload<T>, key: string): Promise<RequestResult<T>> {
    try {
      return await requester.request(type, payload, { key });
    } catch (err) {
      throw unavailable(err instanceof RequestTimeoutError ? 'kafka' : 'db-processor', err);
    }
  }

  async function revoke(userId: string, admin: AdminCaller, ctx: RequestContext): Promise<number> {
    const count = await sessions.revokeAll(userId);
    if (count > 0) ctx.trail.record(ctx, { action: 'session.revoked', actor: admin.actor, userId, outcome: 'success' }, { type: 'session.revoked', userId, data: { reason: 'revoked', count } });
    return count;
  }

  async function setLock(userId: string, locked: boolean, admin: AdminCaller, ctx: RequestContext) {
    const { found, changed } = await db('user.set-lock', { userId, locked, actor: admin.actor, requestId: ctx.requestId }, userId);
    if (!found) throw new AppError('USER_NOT_FOUND');
    // A lock ends every session after the row says locked: a sign-in that read the row before can
    // still have made one in between, and a second lock ends that one too (README).
    const sessionsRevoked = locked ? await revoke(userId, admin, ctx) : 0;
    ctx.logger.info({ event: locked ? 'admin_user_locked' : 'admin_user_unlocked', actor: admin.actor, userId, changed, sessionsRevoked }, locked ? 'account locked by an operator' : 'account unlocked by an operator');
    return { userId, locked, changed, sessionsRevoked };
  }

  return {
    async view(userId: string) {
      const { user } = await db('user.admin-view', { userId }, userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      const [active, rateLimits] = await Promise.all([sessions.list(userId), limits.accountLockouts(emailHash(keys, user.email), userId)]);
      return {
        user: {
          id: user.id,
          state: user.closedAt ? ('closing' as const) : user.lockedAt ? ('locked' as const) : ('active' as const),
          createdAt: user.createdAt,
          verified: user.emailVerifiedAt !== null,
          factors: { password: true as const, totp: { enabled: user.totpEnabledAt !== null, enabledAt: user.totpEnabledAt, recoveryCodesLeft: user.recoveryCodesLeft }, passkeys: { count: user.passkeys } },
          sessions: { count: active.length },
          locks: { admin: { locked: user.lockedAt !== null, since: user.lockedAt }, rateLimits },
          closedAt: user.closedAt,
        },
      };
    },

    /** Newest first; a page ends where the next starts (keyset on occurred_at, id), whatever is appended meanwhile. */
    async audit(q: AuditQuery) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (condition: string, ...values: unknown[]) => {
        where.push(condition);
        params.push(...values);
      };
      if (q.userId) add('"subject_user_id" = ?', q.userId);
      if (q.action) add('"action" = ?', q.action);
      if (q.from) add('"occurred_at" >= ?', q.from);
      if (q.to) add('"occurred_at" < ?', q.to);
      if (q.cursor) {
        const p = decodeCursor(q.cursor);
        add('("occurred_at", "id") < (?::timestamptz, ?::uuid)', p.t, p.id);
      }
      let rows: AuditRow[];
      try {
        rows = await deps.em().getConnection().execute<AuditRow[]>(
          `select "id", "occurred_at", to_char("occurred_at" at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "position",
                  "actor", "action", "subject_user_id", "request_id", "source_ip", "outcome"
             from "audit_event" ${where.length ? `where ${where.join(' and ')}` : ''}
            order by "occurred_at" desc, "id" desc limit ?`,
          [...params, q.limit + 1],
        );
      } catch (err) {
        // The statement is fixed and its inputs validated: what fails here is the database.
        throw unavailable('postgres', err);
      }
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => ({
          id: r.id,
          occurredAt: new Date(r.occurred_at).toISOString(),
          actor: r.actor,
          action: r.action,
          subjectUserId: r.subject_user_id,
          requestId: r.request_id,
          sourceIp: r.source_ip,
          outcome: r.outcome,
        })),
        nextCursor: rows.length > q.limit && last ? encodeCursor({ t: last.position, id: last.id }) : null,
      };
    },

    async revokeSessions(userId: string, admin: AdminCaller, ctx: RequestContext) {
      const { user } = await db('user.get', { id: userId }, userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      return { userId, sessionsRevoked: await revoke(userId, admin, ctx) };
    },

    lock: (userId: string, admin: AdminCaller, ctx: RequestContext) => setLock(userId, true, admin, ctx),
    unlock: (userId: string, admin: AdminCaller, ctx: RequestContext) => setLock(userId, false, admin, ctx),
  };
}
export type AdminUseCases = ReturnType<typeof createAdminUseCases>;
