import { newAuditEntry, type AuditAction } from '../../common/events/audit';
import { newAuthEvent, type AuthEventInput } from '../../common/events/auth-events';
import type { Logger } from '../../common/logger';
import type { KafkaRequester } from '../../common/kafka/request-reply';

export interface AuditRecord {
  action: AuditAction;
  actor: 'user' | 'anonymous';
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
  /** Waits for what is still being sent (at shutdown). */
  flush(): Promise<void>;
}

const ATTEMPTS = 3;

export function createAuditTrail(requester: KafkaRequester, logger: Logger): AuditTrail {
  const inFlight = new Set<Promise<void>>();
  return {
    record(source, e, event) {
      const entry = newAuditEntry({ actor: e.actor, action: e.action, subjectUserId: e.userId, outcome: e.outcome, requestId: source.requestId, ip: source.ip });
      const authEvent = event ? newAuthEvent({ ...event, requestId: source.requestId }) : undefined;
      const send = async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            await requester.request('audit.record', { entry, ...(authEvent ? { event: authEvent } : {}) }, { key: e.userId ?? entry.id });
            return;
          } catch (err) {
            if (attempt >= ATTEMPTS) {
              logger.warn({ event: 'audit_not_recorded', action: e.action, auditId: entry.id, eventId: authEvent?.eventId, requestId: source.requestId, err: { name: (err as Error).name } }, 'audit entry not recorded');
              return;
            }
          }
        }
      };
      const p = send();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    async flush() {
      await Promise.all([...inFlight]);
    },
  };
}

/** For unit tests and tools that have no DB processor: records nothing. */
export const noAuditTrail: AuditTrail = { record: () => undefined, flush: async () => undefined };
