import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { SIGNUP_WORKFLOW_ID_PREFIX } from '../temporal-config';

/** Subkeys derived from one configured secret, so one secret never serves two purposes. */
function deriveKey(secret: string, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `cfd-auth/${label}`, 32));
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface Keys {
  /** HMAC key for workflow ids and hashed emails in logs. */
  readonly emailId: Buffer;
  /** HMAC key for one-time codes. */
  readonly code: Buffer;
  /** AES-256-GCM key for values that cross Temporal, Kafka or Redis and must not be read there. */
  readonly seal: Buffer;
}

export function deriveKeys(secrets: { HMAC_KEY: string; SEALING_KEY: string }): Keys {
  return Object.freeze({
    emailId: deriveKey(secrets.HMAC_KEY, 'email-id'),
    code: deriveKey(secrets.HMAC_KEY, 'otp'),
    seal: deriveKey(secrets.SEALING_KEY, 'seal'),
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

/** Keyed digest of a submitted code, bound to its signup, so the code itself never leaves the API. */
export function codeDigest(keys: Keys, signupId: string, code: string): string {
  return hmacHex(keys.code, `${signupId}:${code}`);
}

export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Six decimal digits from a CSPRNG, without modulo bias. */
export function generateCode(): string {
  for (;;) {
    const n = randomBytes(4).readUInt32BE(0);
    if (n < 4_294_000_000) return String(n % 1_000_000).padStart(6, '0');
  }
}

/**
 * AES-256-GCM, bound to a context string (AAD) so a sealed value cannot be replayed under another
 * email or purpose. Format: v1.<iv>.<tag>.<ciphertext>, base64url.
 */
export function seal(keys: Keys, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys.seal, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

export class SealError extends Error {
  override name = 'SealError';
}

export function unseal(keys: Keys, sealed: string, context: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') throw new SealError('malformed sealed value');
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.seal, Buffer.from(parts[1], 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(parts[2], 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(parts[3], 'base64url')), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new SealError('sealed value does not open with this key and context', { cause: err });
  }
}

/** Contexts (AAD) of the sealed values this project passes around. */
export const SealContext = {
  email: (signupId: string) => `email:${signupId}`,
  passwordHash: (normalisedEmail: string) => `password-hash:${normalisedEmail}`,
  pendingCode: (signupId: string, seq: number) => `code:${signupId}:${seq}`,
  /** A password hash on its way into a user.create request: only that signup run can use it. */
  passwordHashForSignup: (signupRef: string) => `password-hash:signup:${signupRef}`,
  /** A password hash in a user.find reply: bound to the user it belongs to. */
  passwordHashForUser: (userId: string) => `password-hash:user:${userId}`,
} as const;
