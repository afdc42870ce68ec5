import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import { Secret, TOTP } from 'otpauth';
import { unavailable } from '../../common/errors';

/** RFC 6238 defaults every authenticator app understands: SHA-1, 6 digits, 30-second steps. */
export const TOTP_PERIOD_S = 30;
const TOTP_DIGITS = 6;
/** Steps either side of now a code may belong to (clock drift, slow typing): ±1. */
export const TOTP_WINDOW = 1;

/** A new 160-bit secret (RFC 4226's recommended size), base32 as apps expect it. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

export function totp(secret: string, issuer = 'CFD Broker', label = 'account'): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_S, secret: Secret.fromBase32(secret) });
}

/** The time step whose code `code` is, within ±TOTP_WINDOW steps of `now`; undefined for any other code. */
export function matchingStep(secret: string, code: string, now = Date.now()): number | undefined {
  if (!/^[0-9]{6}$/.test(code)) return undefined;
  const delta = totp(secret).validate({ token: code, timestamp: now, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return Math.floor(now / 1000 / TOTP_PERIOD_S) + delta;
}

/** Recovery codes: 10 characters of Crockford's base32 (50 bits), shown as `xxxxx-xxxxx`. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function newRecoveryCode(): string {
  const bytes = randomBytes(10);
  const chars = [...bytes].map((b) => ALPHABET[b & 31]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

/** What a user may type for a recovery code: any case, with or without the dash or spaces. */
export function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

/**
 * Remembers the last step accepted per secret and accepts a step only when it is later: a code is
 * good once, and an older code of the window is refused after a newer one was used. One Lua call,
 * so two requests with the same code cannot both pass. The marker outlives the window (±1 step),
 * after which every step it could refuse is out of the window anyway.
 * KEYS[1] marker; ARGV: step, ttlMs. Returns 1 when the step was taken.
 */
const TAKE_STEP = `
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    totpTakeStep(key: string, step: number, ttlMs: number): Result<number, Context>;
  }
}

export class TotpReplayGuard {
  constructor(private readonly redis: Redis) {
    redis.defineCommand('totpTakeStep', { numberOfKeys: 1, lua: TAKE_STEP });
  }

  /** True when `step` is later than every step accepted before for this secret (`handle`), and is now taken. */
  async take(handle: string, step: number): Promise<boolean> {
    try {
      return (await this.redis.totpTakeStep(`mfa:totp-step:${handle}`, step, (2 * TOTP_WINDOW + 2) * TOTP_PERIOD_S * 1000)) === 1;
    } catch (err) {
      throw unavailable('redis', err);
    }
  }
}
