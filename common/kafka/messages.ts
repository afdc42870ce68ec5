import { z } from 'zod';
import { ReplyErrorCode } from '../errors';
import { AdminActor, AuditEntry } from '../events/audit';
import { AuthEvent } from '../events/auth-events';

/**
 * Wire format of the DB processor's request/reply protocol. Version 2: the routing fields travel in
 * clear, the request `payload` and the reply `result` only encrypted, and every message carries a MAC
 * in its headers (common/kafka/envelope-security.ts). The schemas below describe the decrypted values.
 * Password hashes are sealed once more, bound to their record (signup reference or user id).
 */
export const MESSAGE_VERSION = 2;

const email = z.string().min(3).max(254);
const sealed = z.string().min(10).max(1024);
/** A keyed digest (HMAC-SHA256, hex). */
const digest = z.string().regex(/^[0-9a-f]{64}$/);
/** Recovery codes issued at a time. */
export const RECOVERY_CODE_COUNT = 10;

export const PublicUser = z.object({
  id: z.string().uuid(),
  email,
  name: z.string(),
  createdAt: z.string(),
});
export type PublicUser = z.infer<typeof PublicUser>;

/** A WebAuthn credential id, base64url (the spec allows up to 1023 bytes). */
const credentialId = z.string().regex(/^[A-Za-z0-9_-]{16,1400}$/);
const transport = z.string().regex(/^[a-z-]{1,32}$/);
/** The user's name for a passkey ("Laptop"), shown on the account page. */
export const passkeyLabel = z.string().min(1).max(64);
export const PasskeySummary = z.object({
  id: z.string().uuid(),
  credentialId,
  label: passkeyLabel,
  transports: z.array(transport).max(8),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});
export type PasskeySummary = z.infer<typeof PasskeySummary>;

export const REQUESTS = {
  'user.exists': {
    payload: z.object({ email }).strict(),
    result: z.object({ exists: z.boolean() }),
  },
  /**
   * `totp`, `passkeys`: the account has a second factor of that kind (a sign-in then needs one);
   * `locked`: an operator locked it (a right password then answers ACCOUNT_LOCKED). All absent in
   * replies of older processors.
   */
  'user.find': {
    payload: z.object({ email }).strict(),
    result: z.object({ user: PublicUser.extend({ passwordSealed: sealed, totp: z.boolean().optional(), passkeys: z.boolean().optional(), locked: z.boolean().optional() }).nullable() }),
  },
  'user.get': {
    payload: z.object({ id: z.string().uuid() }).strict(),
    result: z.object({ user: PublicUser.nullable() }),
  },
  'user.create': {
    payload: z.object({ signupRef: z.string().min(1).max(200), email, name: z.string().min(1).max(100), passwordSealed: sealed }).strict(),
    result: z.object({ user: PublicUser }),
  },
  /**
   * A password reset or change: the hash is sealed for this user (SealContext.newPasswordHashForUser).
   * `cause` names the auth event (absent from workers older than the events: `change`).
   */
  'user.set-password': {
    payload: z.object({ userId: z.string().uuid(), passwordSealed: sealed, cause: z.enum(['reset', 'change']).optional() }).strict(),
    result: z.object({ updated: z.boolean() }),
  },
  /** An email change or its undo: moves the account from one address to another (the unique index decides). */
  'user.change-email': {
    payload: z.object({ userId: z.string().uuid(), fromEmail: email, toEmail: email, undo: z.boolean().optional() }).strict(),
    result: z.object({ user: PublicUser }),
  },
  /** Account closure: `closed` is false only when no such account exists. Idempotent. */
  'user.close': {
    payload: z.object({ userId: z.string().uuid() }).strict(),
    result: z.object({ closed: z.boolean() }),
  },
  /** A restore within the grace period: `reopened` is false only when no such account exists. Idempotent. */
  'user.reopen': {
    payload: z.object({ userId: z.string().uuid() }).strict(),
    result: z.object({ reopened: z.boolean() }),
  },
  /** The end of the grace period: deletes the row of a closed account (an open one is kept). Idempotent. */
  'user.erase': {
    payload: z.object({ userId: z.string().uuid() }).strict(),
    result: z.object({ erased: z.boolean() }),
  },
  /**
   * An audit entry of the API (and the auth event it implies, e.g. session.created), written in one
   * transaction. Both carry ids made by the sender, so a retry writes nothing twice.
   */
  'audit.record': {
    payload: z.object({ entry: AuditEntry, event: AuthEvent.optional() }).strict(),
    result: z.object({ recorded: z.literal(true) }),
  },
  /**
   * The second factor of an account: its TOTP secret sealed for this user (SealContext.totpSecretForUser,
   * kept at rest as it travels) and how many recovery codes are left. `totp` null: no second factor.
   */
  'user.mfa-get': {
    payload: z.object({ userId: z.string().uuid() }).strict(),
    result: z.object({ totp: z.object({ secretSealed: sealed }).nullable(), recoveryCodesLeft: z.number().int().min(0) }),
  },
  /**
   * Turns TOTP on with its recovery codes (keyed digests only). `enabled` false: the account already
   * has another secret (two enables at once: the first wins). Idempotent for the same secret.
   */
  'user.mfa-enable': {
    payload: z.object({ userId: z.string().uuid(), secretSealed: sealed, recoveryCodeDigests: z.array(digest).length(RECOVERY_CODE_COUNT) }).strict(),
    result: z.object({ enabled: z.boolean() }),
  },
  /** Turns the second factor off and drops its recovery codes. `disabled` false: there was none. Idempotent. */
  'user.mfa-disable': {
    payload: z.object({ userId: z.string().uuid() }).strict(),
    result: z.object({ disabled: z.boolean() }),
  },
  /** Replaces every recovery code at once (the old ones stop working). `replaced` false: no second factor. */
  'user.mfa-recovery-codes': {
    payload: z.object({ userId: z.string().uuid(), recoveryCodeDigests: z.array(digest).length(RECOVERY_CODE_COUNT) }).strict(),
    result: z.object({ replaced: z.boolean() }),
  },
  /**
   * What an operator sees of an account (admin API): its state and factors. `email` travels (inside
   * the encrypted result) only so the API can name the account's rate-limit keys; it is not shown.
   */
  'user.admin-view': {
    payload: z.object({ userId: z.string().uuid() }).strict(),
    result: z.object({
      user: z
        .object({
          id: z.string().uuid(),
          email,
          createdAt: z.string(),
          emailVerifiedAt: z.string().nullable(),
          closedAt: z.string().nullable(),
          lockedAt: z.string().nullable(),
          totpEnabledAt: z.string().nullable(),
          recoveryCodesLeft: z.number().int().min(0),
          passkeys: z.number().int().min(0),
        })
        .nullable(),
    }),
  },
  /**
   * An operator's lock (`locked` true) or unlock of an account, with its `account.locked` /
   * `account.unlocked` event and audit row (actor: the operator) in the change's transaction.
   * `found` false: no such account; `changed` false: it already was so. Idempotent.
   */
  'user.set-lock': {
    payload: z.object({ userId: z.string().uuid(), locked: z.boolean(), actor: AdminActor, requestId: z.string().max(128) }).strict(),
    result: z.object({ found: z.boolean(), changed: z.boolean() }),
  },
  /** Spends one recovery code: `used` true for exactly one of any number of concurrent requests with the same code. */
  'user.mfa-use-recovery-code': {
    payload: z.object({ userId: z.string().uuid(), digest }).strict(),
    result: z.object({ used: z.boolean() }),
  },
  /** The passkeys of an account (no public keys: what the account page and excludeCredentials need). */
  'passkey.list': {
    payload: z.object({ userId: z.string().uuid() }).strict(),
    result: z.object({ passkeys: z.array(PasskeySummary) }),
  },
  /**
   * The passkey with this credential id, for checking an assertion, and its open account (`user`
   * null: no such credential, or its account is closed).
   */
  'passkey.find': {
    payload: z.object({ credentialId }).strict(),
    result: z.object({ passkey: PasskeySummary.extend({ userId: z.string().uuid(), publicKey: z.string().min(1).max(2048), counter: z.number().int().min(0) }).nullable(), user: PublicUser.extend({ locked: z.boolean().optional() }).nullable() }),
  },
  /** A new passkey, as stored; null: the credential id is registered already (to anyone). Idempotent per id. */
  'passkey.create': {
    payload: z.object({ id: z.string().uuid(), userId: z.string().uuid(), credentialId, publicKey: z.string().min(1).max(2048), counter: z.number().int().min(0), transports: z.array(transport).max(8), label: passkeyLabel }).strict(),
    result: z.object({ passkey: PasskeySummary.nullable() }),
  },
  /**
   * A verified assertion moves the signature counter (compare-and-set: only forward, or 0 staying 0
   * for authenticators without one) and stamps the last use. `used` false: another assertion got there first.
   */
  'passkey.use': {
    payload: z.object({ id: z.string().uuid(), counter: z.number().int().min(0) }).strict(),
    result: z.object({ used: z.boolean() }),
  },
  /** Removes one of the account's passkeys; `deleted` false: the account has no passkey with this id. */
  'passkey.delete': {
    payload: z.object({ userId: z.string().uuid(), id: z.string().uuid() }).strict(),
    result: z.object({ deleted: z.boolean() }),
  },
} as const;

export type RequestType = keyof typeof REQUESTS;
export type RequestPayload<T extends RequestType> = z.infer<(typeof REQUESTS)[T]['payload']>;
export type RequestResult<T extends RequestType> = z.infer<(typeof REQUESTS)[T]['result']>;

const requestTypes = Object.keys(REQUESTS) as [RequestType, ...RequestType[]];

export const RequestEnvelope = z
  .object({
    v: z.literal(MESSAGE_VERSION),
    type: z.enum(requestTypes),
    correlationId: z.string().uuid(),
    replyTo: z.string().min(1).max(200),
    deadline: z.number().int().positive(),
    payload: z.unknown(),
  })
  .strict();
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

export const ReplyError = z.object({ code: ReplyErrorCode, message: z.string() });

export const ReplyEnvelope = z.discriminatedUnion('ok', [
  z.object({ v: z.literal(MESSAGE_VERSION), correlationId: z.string(), replyTo: z.string(), ok: z.literal(true), result: z.unknown() }),
  z.object({ v: z.literal(MESSAGE_VERSION), correlationId: z.string(), replyTo: z.string(), ok: z.literal(false), error: ReplyError }),
]);
export type ReplyEnvelope = z.infer<typeof ReplyEnvelope>;

/** Largest message the DB processor accepts; larger ones are dead-lettered unread. */
export const MAX_MESSAGE_BYTES = 16 * 1024;
