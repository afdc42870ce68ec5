import type Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../common/config';
import { AppError, unavailable } from '../../common/errors';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;

function rateLimited(msBeforeNext: number, scope: string): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new AppError('RATE_LIMITED', `Too many requests. Try again in ${retryAfterSeconds} seconds.`, { retryAfterSeconds }, { cause: scope });
}

/** A limiter that refused is a 429; a limiter that could not reach Redis is a 503. */
function translate(err: unknown, scope: string): never {
  if (err instanceof RateLimiterRes) throw rateLimited(err.msBeforeNext, scope);
  throw unavailable('redis', err);
}

/**
 * Redis-backed limits (rate-limiter-flexible). Failed signins are counted per (email, IP) with a
 * back-off that doubles each time the limit is passed, so an attacker on one address slows down
 * fast while the owner, signing in from another address, is not locked out; the per-email daily
 * cap (NIST 800-63B 5.2.2: at most 100 consecutive failures) and per-IP cap stop distributed and
 * spraying attacks.
 */
export class RateLimits {
  private readonly signinEmailIp: RateLimiterRedis;
  private readonly signinEmail: RateLimiterRedis;
  private readonly signinIp: RateLimiterRedis;
  private readonly signinBackoff: RateLimiterRedis;
  private readonly codeIp: RateLimiterRedis;
  private readonly codeEmail: RateLimiterRedis;
  private readonly verifyIp: RateLimiterRedis;
  private readonly verifyMiss: RateLimiterRedis;

  constructor(redis: Redis, private readonly config: Config) {
    const make = (keyPrefix: string, points: number, duration: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${config.RATE_LIMIT_KEY_PREFIX}:${keyPrefix}`, points, duration });
    this.signinEmailIp = make('signin-email-ip', config.RATE_SIGNIN_FAIL_PER_EMAIL_IP, 15 * MINUTE);
    this.signinEmail = make('signin-email', config.RATE_SIGNIN_FAIL_PER_EMAIL_DAY, DAY);
    this.signinIp = make('signin-ip', config.RATE_SIGNIN_FAIL_PER_IP_DAY, DAY);
    // Counts how many times the (email, IP) limit was passed: the exponent of the back-off.
    this.signinBackoff = make('signin-backoff', 1_000_000, DAY);
    this.codeIp = make('code-ip', config.RATE_SIGNUP_PER_IP_HOUR, HOUR);
    this.codeEmail = make('code-email', config.RATE_SIGNUP_PER_EMAIL_HOUR, HOUR);
    this.verifyIp = make('verify-ip', config.RATE_VERIFY_PER_IP_15MIN, 15 * MINUTE);
    this.verifyMiss = make('verify-miss', config.MAX_CODE_ATTEMPTS, config.LOCKOUT_S);
  }

  private get enabled() {
    return this.config.RATE_LIMITS_ENABLED;
  }

  /** Before a signin: refuse while any failure counter is over its limit. */
  async checkSignin(emailKey: string, ip: string): Promise<void> {
    if (!this.enabled) return;
    const [pair, email, byIp] = await Promise.all([
      this.signinEmailIp.get(`${emailKey}:${ip}`),
      this.signinEmail.get(emailKey),
      this.signinIp.get(ip),
    ]).catch((err) => translate(err, 'signin'));
    const blocked = [
      [pair, this.config.RATE_SIGNIN_FAIL_PER_EMAIL_IP],
      [email, this.config.RATE_SIGNIN_FAIL_PER_EMAIL_DAY],
      [byIp, this.config.RATE_SIGNIN_FAIL_PER_IP_DAY],
    ] as const;
    for (const [res, limit] of blocked) {
      if (res && res.consumedPoints >= limit) throw rateLimited(res.msBeforeNext, 'signin');
    }
  }

  /** After a failed signin. Passing the (email, IP) limit blocks that pair for 1, 2, 4 ... 60 min. */
  async signinFailed(emailKey: string, ip: string): Promise<void> {
    if (!this.enabled) return;
    const pairKey = `${emailKey}:${ip}`;
    try {
      await Promise.all([this.signinEmail.penalty(emailKey), this.signinIp.penalty(ip)]);
      const res = await this.signinEmailIp.penalty(pairKey);
      if (res.consumedPoints >= this.config.RATE_SIGNIN_FAIL_PER_EMAIL_IP) {
        const times = (await this.signinBackoff.penalty(pairKey)).consumedPoints;
        await this.signinEmailIp.block(pairKey, Math.min(HOUR, MINUTE * 2 ** (times - 1)));
      }
    } catch (err) {
      translate(err, 'signin');
    }
  }

  async signinSucceeded(emailKey: string, ip: string): Promise<void> {
    if (!this.enabled) return;
    const pairKey = `${emailKey}:${ip}`;
    await Promise.all([this.signinEmailIp.delete(pairKey), this.signinBackoff.delete(pairKey), this.signinEmail.delete(emailKey)]).catch((err) =>
      translate(err, 'signin'),
    );
  }

  /** Signup and resend each send an email: the costly calls. */
  async codeRequested(emailKey: string, ip: string): Promise<void> {
    if (!this.enabled) return;
    await Promise.all([this.codeIp.consume(ip), this.codeEmail.consume(emailKey)]).catch((err) => translate(err, 'code'));
  }

  /**
   * A verification for an email with no pending signup counts down like a real one, so the
   * answers cannot tell the two apart. Returns the attempts left; 0 means locked.
   */
  async verifyMissed(emailKey: string): Promise<number> {
    try {
      return (await this.verifyMiss.consume(emailKey)).remainingPoints;
    } catch (err) {
      if (err instanceof RateLimiterRes) return 0;
      throw unavailable('redis', err);
    }
  }

  async verifyAttempted(ip: string): Promise<void> {
    if (!this.enabled) return;
    await this.verifyIp.consume(ip).catch((err) => translate(err, 'verify'));
  }
}
