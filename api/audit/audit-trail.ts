import { newAuditEntry, type AdminActor, type AuditAction, type AuditEntry } from '../../common/events/audit';
import { newAuthEvent, type AuthEvent, type AuthEventInput } from '../../common/events/auth-events';
import { unavailable } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { KafkaRequester } from '../../common/kafka/request-reply';

export interface AuditRecord {
  action: AuditAction;
  actor: 'user' | 'anonymous' | AdminActor;
  userId: string | null;
  outcome: 'success' | 'failure' | 'refused';
}

/** Where a request's context says who asked (request id, IP): the audit row keeps the IP truncated. */
export interface AuditSource {
  requestId: string;
  ip: string;
}

export interface AuditTrail {
  /**
   * Appends an audit row, and the auth event of what changed in Redis (a session, a failed
   * sign-in), through the DB processor (`audit.record`: one transaction, then the outbox relay).
   * Never delays or fails the request: it is sent in the background, retried with the same ids
   * (so a retry writes nothing twice), and a loss is logged as `audit_not_recorded`.
   */
  record(source: AuditSource, entry: AuditRecord, event?: AuthEventInput): void;
  /**
   * The same row, written before the caller goes on (the admin API answers nothing it could not
   * record): retried like `record`, then 503 UNAVAILABLE.
   */
  recordNow(source: AuditSource, entry: AuditRecord): Promise<void>;
  /** Waits for what is still being sent (at shutdown). */
  flush(): Promise<void>;
}

const ATTEMPTS = 3;

export function createAuditTrail(requester: KafkaRequester, logger: Logger): AuditTrail {
  const inFlight = new Set<Promise<void>>();
  const prepare = (source: AuditSource, e: AuditRecord, event?: AuthEventInput) => ({
    entry: newAuditEntry({ actor: e.actor, action: e.action, subjectUserId: e.userId, outcome: e.outcome, requestId: source.requestId, ip: source.ip }),
    authEvent: event ? newAuthEvent({ ...event, requestId: source.requestId }) : undefined,
  });
  /** Sends with the same ids up to ATTEMPTS times; throws the last error. */
  const send = async (entry: AuditEntry, authEvent: AuthEvent | undefined, key: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await requester.request('audit.record', { entry, ...(authEvent ? { event: authEvent } : {}) }, { key });
        return;
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err;
      }
    }
  };
  const lost = (source: AuditSource, e: AuditRecord, entry: AuditEntry, authEvent: AuthEvent | undefined, err: unknown) =>
    logger.warn({ event: 'audit_not_recorded', action: e.action, auditId: entry.id, eventId: authEvent?.eventId, requestId: source.requestId, err: { name: (err as Error).name } }, 'audit entry not recorded');
  return {
    record(source, e, event) {
      const { entry, authEvent } = prepare(source, e, event);
      const p = send(entry, authEvent, e.userId ?? entry.id).catch((err: unknown) => lost(source, e, entry, authEvent, err));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    async recordNow(source, e) {
      const { entry } = prepare(source, e);
      try {
        await send(entry, undefined, e.userId ?? entry.id);
      } catch (err) {
        lost(source, e, entry, undefined, err);
        throw unavailable('audit', err);
      }
    },
    async flush() {
      await Promise.all([...inFlight]);
    },
  };
}

/** For unit tests and tools that have no DB processor: records nothing. */
export const noAuditTrail: AuditTrail = { record: () => undefined, recordNow: async () => undefined, flush: async () => undefined };
