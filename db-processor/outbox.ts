import type { EntityManager } from '@mikro-orm/postgresql';
import { newAuditEntry, type AuditActor, type AuditEntry } from '../common/events/audit';
import { newAuthEvent, type AuthEvent, type AuthEventInput } from '../common/events/auth-events';
import { TOPICS } from '../common/kafka/topics';

/**
 * Writes an auth event to the outbox. Call it with the EntityManager of the transaction that makes
 * the change: the event is committed with the change or not at all, and the relay
 * (event-relay.ts) publishes only committed rows. An event id already there is not written again.
 */
export async function appendEvent(tx: EntityManager, event: AuthEvent): Promise<void> {
  await tx.execute(
    'insert into "outbox" ("event_id", "topic", "message_key", "payload") values (?, ?, ?, ?) on conflict ("event_id") do nothing',
    [event.eventId, TOPICS.authEvents, event.userId ?? event.eventId, JSON.stringify(event)],
    'run',
  );
}

/** Appends one row to the audit trail (in the caller's transaction); an id already there is kept as it is. */
export async function appendAudit(tx: EntityManager, e: AuditEntry): Promise<void> {
  await tx.execute(
    `insert into "audit_event" ("id", "occurred_at", "actor", "action", "subject_user_id", "request_id", "source_ip", "outcome")
     values (?, ?, ?, ?, ?, ?, ?, ?) on conflict ("id") do nothing`,
    [e.id, e.occurredAt, e.actor, e.action, e.subjectUserId, e.requestId, e.sourceIp, e.outcome],
    'run',
  );
}

/** A change the DB processor made: its auth event and its audit row, in the change's transaction. */
export async function recordChange(tx: EntityManager, input: AuthEventInput, actor: AuditActor): Promise<void> {
  const event = newAuthEvent(input);
  await appendEvent(tx, event);
  await appendAudit(tx, newAuditEntry({ actor, action: event.type, subjectUserId: event.userId, requestId: event.requestId, outcome: 'success' }));
}
