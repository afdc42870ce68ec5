import type Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../common/config';
import { AppError, unavailable } from '../../common/errors';
import { metrics } from '../../common/metrics';
import { deviceLimitKey } from './device-cookie';
import { sourceKey } from './source-key';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;

/** Every 429 passes here: counted by limiter (`scope` is one of a fixed few names). */
function rateLimited(msBeforeNext: number, scope: string): AppError {
  metrics.rateLimitRejections.inc({ limiter: scope });
  const retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new AppError('RATE_LIMITED', `Too many requests. Try again in ${retryAfterSeconds} seconds.`, { retryAfterSeconds }, { cause: scope });
}

/** A limiter that refused is a 429; a limiter that could not reach Redis is a 503. */
function translate(err: unknown, scope: string): never {
  if (err instanceof RateLimiterRes) throw rateLimited(err.msBeforeNext, scope);
  throw unavailable('redis', err);
}

/** Giving back, resetting or blocking never refuses: any error of those is Redis failing (503). */
function redisDown(err: unknown): never {
  throw unavailable('redis', err);
}

/** What a sign-in attempt holds after its budget was taken: settle it once the password was checked. */
export interface SigninReservation {
  /** The password matched: the failure counters of this email and source start over. */
  succeeded(): Promise<void>;
  /** The password did not match: the point stays spent; a source over its limit backs off. */
  failed(): Promise<void>;
  /** The attempt never reached the password check (a dependency failed): give the points back. */
  cancel(): Promise<void>;
}

/** Whether a limit currently refuses an account, and for how long. */
export interface Lockout {
  locked: boolean;
  retryAfterSeconds: number | null;
}

const NOOP_RESERVATION: SigninReservation = { succeeded: async () => undefined, failed: async () => undefined, cancel: async () => undefined };

/**
 * Redis-backed limits (rate-limiter-flexible). Every budget is taken with an atomic `consume`
 * BEFORE the expensive or secret-dependent step (bcrypt compare, code check), so N parallel
 * attempts let at most the limit through; a success or an attempt that never reached the check
 * is refunded afterwards.
 *
 * Sign-in, untrusted client (no valid device cookie for the account): failures per (email,
 * source) with a back-off that doubles each time the limit is passed, per email per day (NIST
 * 800-63B 5.2.2: at most 100 consecutive failures) and per source per day (spraying). Sign-in
 * from a device with a valid device cookie for the account: only that device's own budget, so
 * failures from elsewhere never lock the owner out (OWASP device cookies); once that budget is
 * spent the device counts as untrusted. A source is an IPv4 address or an IPv6 /64.
 */
export class RateLimits {
  private readonly signinEmailIp: RateLimiterRedis;
  private readonly signinEmail: RateLimiterRedis;
  private readonly signinIp: RateLimiterRedis;
  private readonly signinBackoff: RateLimiterRedis;
  private readonly signinDevice: RateLimiterRedis;
  private readonly codeIp: RateLimiterRedis;
  private readonly codeEmail: RateLimiterRedis;
  private readonly verifyIp: RateLimiterRedis;
  private readonly verifyMiss: RateLimiterRedis;
  private readonly verifyEmail: RateLimiterRedis;
  private readonly secondFactor: RateLimiterRedis;

  constructor(redis: Redis, private readonly config: Config) {
    const make = (keyPrefix: string, points: number, duration: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${config.RATE_LIMIT_KEY_PREFIX}:${keyPrefix}`, points, duration });
    this.signinEmailIp = make('signin-email-ip', config.RATE_SIGNIN_FAIL_PER_EMAIL_IP, 15 * MINUTE);
    // Stryker disable StringLiteral: a label only keeps one limiter's keys apart from the others'; an empty one still differs from every other label
    this.signinEmail = make('signin-email', config.RATE_SIGNIN_FAIL_PER_EMAIL_DAY, DAY);
    this.signinIp = make('signin-ip', config.RATE_SIGNIN_FAIL_PER_IP_DAY, DAY);
    // Counts how many times the (email, source) limit was passed: the exponent of the back-off.
    this.signinBackoff = make('signin-backoff', 1_000_000, DAY);
    this.signinDevice = make('signin-device', config.RATE_SIGNIN_FAIL_PER_DEVICE, DAY);
    this.codeIp = make('code-ip', config.RATE_SIGNUP_PER_IP_HOUR, HOUR);
    this.codeEmail = make('code-email', config.RATE_SIGNUP_PER_EMAIL_HOUR, HOUR);
    this.verifyIp = make('verify-ip', config.RATE_VERIFY_PER_IP_15MIN, 15 * MINUTE);
    this.verifyMiss = make('verify-miss', config.MAX_CODE_ATTEMPTS, config.LOCKOUT_S);
    this.verifyEmail = make('verify-email', config.RATE_VERIFY_PER_EMAIL_DAY, DAY);
    this.secondFactor = make('mfa-user', config.RATE_MFA_FAIL_PER_USER_15MIN, 15 * MINUTE);
  }

  // Stryker restore StringLiteral

  private get enabled() {
    return this.config.RATE_LIMITS_ENABLED;
  }

  /**
   * Takes one point of every budget this sign-in draws on, before the password is checked; throws
   * 429 RATE_LIMITED (with Retry-After) when any is spent, giving back what it took from the others.
   * `deviceId`: the id of a valid device cookie for this account (trusted device), if any.
   */
  async reserveSignin(emailKey: string, ip: string, deviceId?: string): Promise<SigninReservation> {
    if (!this.enabled) return NOOP_RESERVATION;
    if (deviceId !== undefined) {
      // A device over its own budget is treated as any untrusted client (OWASP): its attempts then
      // draw on the per-email budget, so a stolen device cookie adds at most this budget a day.
      const onDevice = await this.reserveSigninOnDevice(deviceLimitKey(deviceId));
      if (onDevice) return onDevice;
    }
    const source = sourceKey(ip);
    const pairKey = `${emailKey}:${source}`;
    const taken = await this.consumeAll(
      [
        [this.signinEmailIp, pairKey],
        [this.signinEmail, emailKey],
        [this.signinIp, source],
      ],
      'signin',
    );
    const pair = taken[0];
    return {
      succeeded: () =>
        Promise.all([
          this.signinEmailIp.delete(pairKey),
          this.signinBackoff.delete(pairKey),
          this.signinEmail.delete(emailKey),
          // The per-source budget counts failures only.
          this.signinIp.reward(source, 1),
        ]).then(() => undefined, redisDown),
      failed: async () => {
        // Passing the (email, source) limit blocks that pair for 1, 2, 4 ... 60 min.
        if (pair.consumedPoints < this.config.RATE_SIGNIN_FAIL_PER_EMAIL_IP) return;
        try {
          const times = (await this.signinBackoff.penalty(pairKey)).consumedPoints;
          await this.signinEmailIp.block(pairKey, Math.min(HOUR, MINUTE * 2 ** (times - 1)));
        } catch (err) {
          redisDown(err);
        }
      },
      cancel: () => this.refund([
        [this.signinEmailIp, pairKey],
        [this.signinEmail, emailKey],
        [this.signinIp, source],
      ]),
    };
  }

  /**
   * The limits that shut an account out wherever the attempts come from (the admin API shows them):
   * the per-email sign-in budget of the day and the second-factor budget. Per-source limits and
   * device budgets are not the account's and are not listed. Off limits: never locked.
   */
  async accountLockouts(emailKey: string, userId: string): Promise<{ signin: Lockout; secondFactor: Lockout }> {
    if (!this.enabled) return { signin: { locked: false, retryAfterSeconds: null }, secondFactor: { locked: false, retryAfterSeconds: null } };
    const state = async (limiter: RateLimiterRedis, key: string): Promise<Lockout> => {
      const res = await limiter.get(key).catch(redisDown);
      const locked = res !== null && res.consumedPoints >= limiter.points;
      return { locked, retryAfterSeconds: locked ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : null };
    };
    const [signin, secondFactor] = await Promise.all([state(this.signinEmail, emailKey), state(this.secondFactor, userId)]);
    return { signin, secondFactor };
  }

  /** The device's own budget; undefined once it is spent (the device then counts as untrusted). */
  private async reserveSigninOnDevice(key: string): Promise<SigninReservation | undefined> {
    try {
      await this.signinDevice.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) return undefined;
      redisDown(err);
    }
    return {
      succeeded: () => this.signinDevice.delete(key).then(() => undefined, redisDown),
      failed: async () => undefined,
      cancel: () => this.refund([[this.signinDevice, key]]),
    };
  }

  /**
   * Consumes one point from each (limiter, key) at once. When any refuses, the points the others
   * took are given back (a refused attempt should not drain budgets it never used) and the
   * longest wait is the Retry-After. The refused increments stay: a block or a reset rewrites the
   * counter, and giving back an increment it already erased would open extra attempts.
   */
  private async consumeAll(items: [RateLimiterRedis, string][], scope: string): Promise<RateLimiterRes[]> {
    const results = await Promise.allSettled(items.map(([limiter, key]) => limiter.consume(key)));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused.length === 0) return results.map((r) => (r as PromiseFulfilledResult<RateLimiterRes>).value);
    const down = refused.find((r) => !(r.reason instanceof RateLimiterRes));
    await this.refund(items.filter((_, i) => results[i].status === 'fulfilled')).catch(() => undefined);
    if (down) throw unavailable('redis', down.reason);
    throw rateLimited(Math.max(...refused.map((r) => (r.reason as RateLimiterRes).msBeforeNext)), scope);
  }

  private async refund(items: [RateLimiterRedis, string][]): Promise<void> {
    await Promise.all(items.map(([limiter, key]) => limiter.reward(key, 1))).catch(redisDown);
  }

  /**
   * A second-factor attempt (TOTP or recovery code) of one account, wherever it comes from: the
   * point is taken before the code is checked, so parallel guesses cannot all reach the check; a
   * right code starts the count over, a check that never ran gives the point back.
   */
  async reserveSecondFactor(userId: string): Promise<SigninReservation> {
    if (!this.enabled) return NOOP_RESERVATION;
    await this.consumeAll([[this.secondFactor, userId]], 'mfa');
    return {
      succeeded: () => this.secondFactor.delete(userId).then(() => undefined, redisDown),
      failed: async () => undefined,
      cancel: () => this.refund([[this.secondFactor, userId]]),
    };
  }

  /** Signup and resend each send an email: the costly calls. */
  async codeRequested(emailKey: string, ip: string): Promise<void> {
    if (!this.enabled) return;
    await Promise.all([this.codeIp.consume(sourceKey(ip)), this.codeEmail.consume(emailKey)]).catch((err) => translate(err, 'code'));
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

  /**
   * Per-email cap on verification attempts across all signup runs (RATE_VERIFY_PER_EMAIL_DAY per
   * 24 h): call BEFORE the code is checked. Throws 429 RATE_LIMITED (Retry-After) once spent;
   * resolves with the attempts left after this one.
   */
  async consumeVerifyEmailAttempt(emailKey: string): Promise<{ remaining: number }> {
    if (!this.enabled) return { remaining: this.config.RATE_VERIFY_PER_EMAIL_DAY };
    const [res] = await this.consumeAll([[this.verifyEmail, emailKey]], 'verify-email');
    return { remaining: res.remainingPoints };
  }

  /** Gives back the attempt taken by consumeVerifyEmailAttempt (the code was right, or it was never checked). */
  async refundVerifyEmailAttempt(emailKey: string): Promise<void> {
    if (!this.enabled) return;
    await this.verifyEmail.reward(emailKey, 1).catch(redisDown);
  }

  /** Per-source verify limiter (RATE_VERIFY_PER_IP_15MIN per IPv4 address or IPv6 /64): call before the code check. */
  async consumeVerifySource(ip: string): Promise<void> {
    if (!this.enabled) return;
    await this.consumeAll([[this.verifyIp, sourceKey(ip)]], 'verify');
  }

  /** Gives back the point taken by consumeVerifySource. */
  async refundVerifySource(ip: string): Promise<void> {
    if (!this.enabled) return;
    await this.verifyIp.reward(sourceKey(ip), 1).catch(redisDown);
  }
}
