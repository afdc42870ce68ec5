import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/**
 * The auth events other services read on `auth.events.v1`, defined once: the DB processor writes
 * them to the outbox, the relay publishes them, `scripts/export-event-schemas.ts` exports these
 * schemas as JSON Schema into docs/events/. Every object is strict, so an event can carry nothing
 * beyond what is listed here: the user id is the only personal datum, never an email, name, IP,
 * session id, password, hash or code.
 *
 * Versioning: `v` is the schema version of the whole envelope. Adding an event type or an optional
 * field keeps v1 (consumers ignore types they do not know); changing or removing a field is a v2
 * on a new topic `auth.events.v2`, published beside v1 until every consumer moved.
 */
export const AUTH_EVENT_VERSION = 1;

const uuid = z.string().uuid();

/** How a session came to be (no session id: it is a bearer secret inside the cookie's token). */
export const SessionOrigin = z.enum(['signin', 'signup_verified', 'password_reset', 'email_change']);
/** Why sessions ended. */
export const SessionEndReason = z.enum(['logout', 'revoked', 'logout_all']);

/** Each event type with the fields of its `data` (empty for most: the type says it all). */
export const AUTH_EVENT_DATA = {
  'user.registered': z.object({}).strict(),
  'session.created': z.object({ origin: SessionOrigin }).strict(),
  'session.revoked': z.object({ reason: SessionEndReason, count: z.number().int().min(0) }).strict(),
  /** `userId` of the envelope is set only when the email names an account (wrong password). */
  'signin.failed': z.object({ reason: z.enum(['invalid_credentials']) }).strict(),
  'password.reset': z.object({}).strict(),
  'password.changed': z.object({}).strict(),
  /** `undo`: the owner's old address took the account back within the undo window. */
  'email.changed': z.object({ undo: z.boolean() }).strict(),
  'account.closure_requested': z.object({}).strict(),
  'account.restored': z.object({}).strict(),
  /** The grace period ended: the row (email, name, password hash) is deleted. */
  'account.closed': z.object({}).strict(),
  /** An operator locked the account (admin API): no sign-in, every session ended. */
  'account.locked': z.object({}).strict(),
  'account.unlocked': z.object({}).strict(),
  /** A second factor (TOTP) was turned on, with a new set of recovery codes. */
  'mfa.enabled': z.object({ method: z.enum(['totp']) }).strict(),
  'mfa.disabled': z.object({ method: z.enum(['totp']) }).strict(),
  /** New recovery codes replaced the old ones. */
  'mfa.recovery_codes_renewed': z.object({}).strict(),
  /** A passkey (WebAuthn credential) was added to the account; `passkeyId` is ours, not the credential id. */
  'passkey.registered': z.object({ passkeyId: uuid }).strict(),
  'passkey.removed': z.object({ passkeyId: uuid }).strict(),
} as const;

export type AuthEventType = keyof typeof AUTH_EVENT_DATA;
export const AUTH_EVENT_TYPES = Object.keys(AUTH_EVENT_DATA) as [AuthEventType, ...AuthEventType[]];

const envelope = <T extends AuthEventType>(type: T) =>
  z
    .object({
      v: z.literal(AUTH_EVENT_VERSION),
      /** Unique per event; a redelivered event keeps it (deduplicate on it). */
      eventId: uuid,
      type: z.literal(type),
      /** When the change was committed (ISO 8601, UTC). */
      occurredAt: z.string().datetime(),
      userId: type === 'signin.failed' ? uuid.nullable() : uuid,
      /** The HTTP request id behind the event, when an HTTP request caused it. */
      requestId: z.string().max(128).nullable(),
      data: AUTH_EVENT_DATA[type],
    })
    .strict();

export const AuthEvent = z.discriminatedUnion(
  'type',
  AUTH_EVENT_TYPES.map((t) => envelope(t)) as unknown as [ReturnType<typeof envelope<'user.registered'>>, ...ReturnType<typeof envelope<AuthEventType>>[]],
);
export type AuthEvent = z.infer<typeof AuthEvent>;

export type AuthEventData<T extends AuthEventType> = z.infer<(typeof AUTH_EVENT_DATA)[T]>;

/** What a producer states about an event; the id, version and time are added by `newAuthEvent`. */
export type AuthEventInput = {
  [T in AuthEventType]: { type: T; userId: T extends 'signin.failed' ? string | null : string; requestId?: string | null; data: AuthEventData<T> };
}[AuthEventType];

/** A complete event, checked against its schema (throws on a field that is not allowed). */
export function newAuthEvent(input: AuthEventInput, opts: { eventId?: string; occurredAt?: Date } = {}): AuthEvent {
  return AuthEvent.parse({
    v: AUTH_EVENT_VERSION,
    eventId: opts.eventId ?? randomUUID(),
    type: input.type,
    occurredAt: (opts.occurredAt ?? new Date()).toISOString(),
    userId: input.userId,
    requestId: input.requestId ?? null,
    data: input.data,
  });
}

/** The JSON Schema of `AuthEvent` as published in docs/events/auth-events.v1.schema.json. */
export function authEventJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://cfd-broker.example/schemas/auth-events.v1.schema.json',
    title: 'Auth event (topic auth.events.v1)',
    description: 'Generated from common/events/auth-events.ts by scripts/export-event-schemas.ts; do not edit.',
    ...z.toJSONSchema(AuthEvent, { target: 'draft-2020-12' }),
  };
}
