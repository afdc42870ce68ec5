import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { EMAIL_CHANGE_WORKFLOW_ID_PREFIX, EMAIL_UNDO_WORKFLOW_ID_PREFIX, PASSWORD_CHANGE_WORKFLOW_ID_PREFIX, PASSWORD_RESET_WORKFLOW_ID_PREFIX } from '../temporal-config/account-flows';
import { SIGNUP_WORKFLOW_ID_PREFIX } from '../temporal-config';
import { ACCOUNT_CLOSURE_WORKFLOW_ID_PREFIX } from '../temporal-config/account-closure';
import { SIGNIN_NOTICE_WORKFLOW_ID_PREFIX } from '../temporal-config/signin-notice';
import { MFA_NOTICE_WORKFLOW_ID_PREFIX } from '../temporal-config/mfa-notice';

/** Subkeys derived from one configured secret, so one secret never serves two purposes. */
function deriveKey(secret: string, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `cfd-auth/${label}`, 32));
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * A current key plus the previous ones still accepted, each under a key id. The id is a short
 * fingerprint of the key (HMAC of a fixed label), so operators rotate by changing secrets only:
 * no id to keep in sync, and an id says nothing usable about its key.
 */
export interface Keyring<K = Buffer> {
  readonly current: { readonly id: string; readonly key: K };
  /** Every accepted key by id, the current one included. */
  readonly byId: ReadonlyMap<string, K>;
}

/** Key id of 32 bytes of key material: 8 base64url characters (48 bits), enough to tell keys apart. */
export function keyId(material: Buffer, purpose: string): string {
  return createHmac('sha256', material).update(`cfd-auth/key-id/${purpose}`, 'utf8').digest('base64url').slice(0, 8);
}

/** Comma-separated secrets of a `*_PREVIOUS_*` variable; empty entries are ignored. */
export function parseSecretList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * Builds a keyring from the current secret and the previous ones (newest first). `derive` turns a
 * secret into the key actually used (an HKDF subkey, a KeyObject ...); the id is taken from
 * `material(secret)` (by default the HKDF subkey for `purpose`), so the same secret always has the
 * same id for one purpose and different ids for different purposes.
 */
export function buildKeyring<K = Buffer>(
  purpose: string,
  current: string,
  previous: readonly string[] = [],
  derive: (secret: string) => K = (secret) => deriveKey(secret, purpose) as unknown as K,
  material: (secret: string) => Buffer = (secret) => deriveKey(secret, purpose),
): Keyring<K> {
  const byId = new Map<string, K>();
  const entries = [current, ...previous].map((secret) => ({ id: keyId(material(secret), purpose), key: derive(secret) }));
  for (const e of entries) if (!byId.has(e.id)) byId.set(e.id, e.key);
  return Object.freeze({ current: Object.freeze(entries[0]), byId });
}

export interface Keys {
  /** HMAC key for workflow ids and hashed emails in logs. */
  readonly emailId: Buffer;
  /** HMAC key for one-time codes. */
  readonly code: Buffer;
  /** AES-256-GCM key for values that cross Temporal, Kafka or Redis and must not be read there (the current one). */
  readonly seal: Buffer;
  /** The sealing keys by id: the current one seals, every one of them unseals. */
  readonly sealRing: Keyring;
}

/**
 * `SEALING_PREVIOUS_KEYS` (comma-separated, newest first) keeps values sealed under retired keys
 * readable during a rotation; see the README's key rotation section.
 */
export function deriveKeys(secrets: { HMAC_KEY: string; SEALING_KEY: string; SEALING_PREVIOUS_KEYS?: string | readonly string[] }): Keys {
  const previous = typeof secrets.SEALING_PREVIOUS_KEYS === 'string' ? parseSecretList(secrets.SEALING_PREVIOUS_KEYS) : [...(secrets.SEALING_PREVIOUS_KEYS ?? [])];
  const sealRing = buildKeyring('seal', secrets.SEALING_KEY, previous);
  return Object.freeze({
    emailId: deriveKey(secrets.HMAC_KEY, 'email-id'),
    code: deriveKey(secrets.HMAC_KEY, 'otp'),
    seal: sealRing.current.key,
    sealRing,
  });
}

function hmacHex(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** Stable, keyed, non-reversible handle for an email: used in ids and logs instead of the address. */
export function emailHash(keys: Keys, normalisedEmail: string): string {
  return hmacHex(keys.emailId, normalisedEmail).slice(0, 32);
}

export function signupWorkflowId(keys: Keys, normalisedEmail: string): string {
  return SIGNUP_WORKFLOW_ID_PREFIX + emailHash(keys, normalisedEmail);
}

/** One password reset per normalised email at a time; the id never shows the address. */
export function passwordResetWorkflowId(keys: Keys, normalisedEmail: string): string {
  return PASSWORD_RESET_WORKFLOW_ID_PREFIX + emailHash(keys, normalisedEmail);
}

const userHash = (keys: Keys, userId: string) => hmacHex(keys.emailId, `user:${userId}`).slice(0, 32);

/** One password change per request: keyed by the user and a random request id. */
export function passwordChangeWorkflowId(keys: Keys, userId: string, requestId: string): string {
  return `${PASSWORD_CHANGE_WORKFLOW_ID_PREFIX}${userHash(keys, userId)}-${requestId}`;
}

/** One pending email change (its code phase) per user: a new request replaces it. */
export function emailChangeWorkflowId(keys: Keys, userId: string): string {
  return EMAIL_CHANGE_WORKFLOW_ID_PREFIX + userHash(keys, userId);
}

/** One closure at a time per user: a second DELETE /me finds the running one (its id travels in the restore link). */
export function accountClosureWorkflowId(keys: Keys, userId: string): string {
  return ACCOUNT_CLOSURE_WORKFLOW_ID_PREFIX + userHash(keys, userId);
}

/** The notice of one sign-in from a new device: keyed by its session id (one notice per session). */
export function signinNoticeWorkflowId(keys: Keys, sessionId: string): string {
  return SIGNIN_NOTICE_WORKFLOW_ID_PREFIX + hmacHex(keys.emailId, `session:${sessionId}`).slice(0, 32);
}

/** The notice of one change of a user's second factor: keyed by the user and a random request id. */
export function mfaNoticeWorkflowId(keys: Keys, userId: string, requestId: string): string {
  return `${MFA_NOTICE_WORKFLOW_ID_PREFIX}${userHash(keys, userId)}-${requestId}`;
}

/** The undo window of one applied email change (its id travels in the undo link). */
export function emailUndoWorkflowId(keys: Keys, userId: string, requestId: string): string {
  return `${EMAIL_UNDO_WORKFLOW_ID_PREFIX}${userHash(keys, userId)}-${requestId}`;
}

/** Keyed handle of a request source (IP or IPv6 /64), for per-source counting inside workflows. */
export function sourceHash(keys: Keys, source: string): string {
  return hmacHex(keys.emailId, `source:${source}`).slice(0, 32);
}

/** Keyed digest of a submitted code, bound to its signup, so the code itself never leaves the API. */
export function codeDigest(keys: Keys, signupId: string, code: string): string {
  return hmacHex(keys.code, `${signupId}:${code}`);
}

export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Keyed digest of a recovery code, bound to its user: only these digests are stored. */
export function recoveryCodeDigest(keys: Keys, userId: string, normalisedCode: string): string {
  return hmacHex(keys.code, `recovery:${userId}:${normalisedCode}`);
}

/** Keyed handle of a TOTP secret (for its replay marker's key: a new secret starts with no used step). */
export function totpSecretHandle(keys: Keys, userId: string, secret: string): string {
  return hmacHex(keys.code, `totp:${userId}:${secret}`).slice(0, 32);
}

/** Six decimal digits from a CSPRNG, without modulo bias. */
export function generateCode(): string {
  for (;;) {
    const n = randomBytes(4).readUInt32BE(0);
    if (n < 4_294_000_000) return String(n % 1_000_000).padStart(6, '0');
  }
}

/** GCM's full 128-bit tag: pinned on both sides, so a truncated tag (easier to forge) is refused. */
export const GCM_TAG_BYTES = 16;
const GCM_IV_BYTES = 12;

/**
 * AES-256-GCM, bound to a context string (AAD) so a sealed value cannot be replayed under another
 * email or purpose. Format: v2.<key id>.<iv>.<tag>.<ciphertext>, base64url. Values of the older
 * format v1.<iv>.<tag>.<ciphertext> (no key id) still open: every key of the ring is tried.
 */
export function seal(keys: Keys, plaintext: string, context: string): string {
  const iv = randomBytes(GCM_IV_BYTES);
  const { id, key } = keys.sealRing.current;
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v2', id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

export class SealError extends Error {
  override name = 'SealError';
}

/**
 * AES-256-GCM decryption with the tag length pinned: a tag of any other length is refused before
 * the cipher sees it (Node would otherwise accept tags as short as 4 bytes).
 */
export function gcmOpen(key: Buffer, iv: Buffer, tag: Buffer, ciphertext: Buffer, aad: Buffer): Buffer {
  if (tag.length !== GCM_TAG_BYTES) throw new SealError(`GCM tag must be ${GCM_TAG_BYTES} bytes`);
  if (iv.length !== GCM_IV_BYTES) throw new SealError(`GCM iv must be ${GCM_IV_BYTES} bytes`);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

export function unseal(keys: Keys, sealed: string, context: string): string {
  const parts = sealed.split('.');
  let candidates: Buffer[];
  let fields: string[];
  if (parts.length === 5 && parts[0] === 'v2') {
    const key = keys.sealRing.byId.get(parts[1]);
    if (!key) throw new SealError('sealed under a key that is not in the keyring');
    candidates = [key];
    fields = parts.slice(2);
  } else if (parts.length === 4 && parts[0] === 'v1') {
    candidates = [...keys.sealRing.byId.values()];
    fields = parts.slice(1);
  } else {
    throw new SealError('malformed sealed value');
  }
  const [iv, tag, ct] = fields.map((f) => Buffer.from(f, 'base64url'));
  const aad = Buffer.from(context, 'utf8');
  let last: unknown;
  for (const key of candidates) {
    try {
      return gcmOpen(key, iv, tag, ct, aad).toString('utf8');
    } catch (err) {
      last = err;
    }
  }
  throw new SealError('sealed value does not open with this key and context', { cause: last });
}

/** Contexts (AAD) of the sealed values this project passes around. */
export const SealContext = {
  email: (signupId: string) => `email:${signupId}`,
  name: (signupId: string) => `name:${signupId}`,
  passwordHash: (normalisedEmail: string) => `password-hash:${normalisedEmail}`,
  pendingCode: (signupId: string, seq: number) => `code:${signupId}:${seq}`,
  /** A password hash on its way into a user.create request: only that signup run can use it. */
  passwordHashForSignup: (signupRef: string) => `password-hash:signup:${signupRef}`,
  /** A password hash in a user.find reply: bound to the user it belongs to. */
  passwordHashForUser: (userId: string) => `password-hash:user:${userId}`,
  /** The other address of an email change (the old one in its code phase, the new one in its undo window). */
  otherEmail: (flowId: string) => `email:other:${flowId}`,
  /** The secret of an undo link, kept in Redis for the mail activity. */
  undoSecret: (flowId: string) => `undo-secret:${flowId}`,
  /** Where and how a new-device sign-in happened (IP, browser), for its notice. */
  signinDetails: (flowId: string) => `signin-details:${flowId}`,
  /** A new password's hash from the API to an account flow (reset, change): only that flow opens it. */
  newPasswordHashForFlow: (flowId: string) => `password-hash:flow:${flowId}`,
  /** A new password's hash in a user.set-password request: only that user's row takes it. */
  newPasswordHashForUser: (userId: string) => `password-hash:set:${userId}`,
  /** A token signing key's private half in Postgres: bound to its kid. */
  signingKey: (kid: string) => `signing-key:${kid}`,
  /** An enabled TOTP secret: sealed by the API, carried over Kafka and kept at rest as is (the DB processor never opens it). */
  totpSecretForUser: (userId: string) => `totp-secret:user:${userId}`,
  /** A TOTP secret between /mfa/totp/setup and /mfa/totp/enable, kept in Redis. */
  totpPendingForUser: (userId: string) => `totp-secret:pending:${userId}`,
} as const;
