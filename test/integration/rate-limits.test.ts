import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { RateLimits } from '../../api/security/rate-limits';
import { AppError } from '../../common/errors';
import { testConfig, uniqueIp } from '../../testkit/env';
import { startTcpProxy, type TcpProxy } from '../../testkit/tcp-proxy';
import { eventually } from '../../testkit/wait';

/** The verify primitives against the real Redis of the stack. */
describe('verification limits (primitives for the verify flow)', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(testConfig().REDIS_URL);
  });
  afterAll(() => redis.disconnect());

  const limits = (env: Record<string, string> = {}) => new RateLimits(redis, testConfig({ RATE_LIMIT_KEY_PREFIX: 'rl-test', ...env }));
  const emailKey = () => randomBytes(16).toString('hex');
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    return err instanceof AppError ? { code: err.code, retry: (err.details.retryAfterSeconds as number) > 0 } : err;
  };

  it('the per-email cap holds under 40 parallel attempts: exactly the cap passes, the rest are 429 with a retry time', async () => {
    const rl = limits({ RATE_VERIFY_PER_EMAIL_DAY: '20' });
    const key = emailKey();
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => rl.consumeVerifyEmailAttempt(key)));
    const passed = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ remaining: number }>[];
    expect(passed).toHaveLength(20);
    expect(passed.map((p) => p.value.remaining).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const r of results.filter((x) => x.status === 'rejected') as PromiseRejectedResult[]) {
      expect(r.reason).toBeInstanceOf(AppError);
      expect((r.reason as AppError).code).toBe('RATE_LIMITED');
      expect((r.reason as AppError).details.retryAfterSeconds).toBeGreaterThan(0);
    }
  });

  it('the cap spans signup runs (it is per email, not per workflow) and a refund gives one attempt back', async () => {
    const rl = limits({ RATE_VERIFY_PER_EMAIL_DAY: '3' });
    const key = emailKey();
    for (let i = 0; i < 3; i++) await rl.consumeVerifyEmailAttempt(key);
    // The right code: its attempt is given back, so one more is possible.
    await rl.refundVerifyEmailAttempt(key);
    expect((await rl.consumeVerifyEmailAttempt(key)).remaining).toBe(0);
    expect(await refusal(rl.consumeVerifyEmailAttempt(key))).toEqual({ code: 'RATE_LIMITED', retry: true });
    // A second RateLimits (another API instance, or a later signup run) sees the same budget.
    expect(await refusal(limits({ RATE_VERIFY_PER_EMAIL_DAY: '3' }).consumeVerifyEmailAttempt(key))).toEqual({ code: 'RATE_LIMITED', retry: true });
    // Another email is untouched.
    expect((await rl.consumeVerifyEmailAttempt(emailKey())).remaining).toBe(2);
  });

  it('the per-source verify limit groups IPv6 by /64 and refunds', async () => {
    const rl = limits({ RATE_VERIFY_PER_IP_15MIN: '2' });
    const p = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
    await rl.consumeVerifySource(`${p}::1`);
    await rl.consumeVerifySource(`${p}::2`);
    await rl.refundVerifySource(`${p}::99`);
    await rl.consumeVerifySource(`${p}::3`);
    expect(await refusal(rl.consumeVerifySource(`${p}:1:2:3:4`))).toEqual({ code: 'RATE_LIMITED', retry: true });
    await rl.consumeVerifySource(`2001:db8:ffff:${randomBytes(2).toString('hex')}::1`);
  });

  it('a sign-in reservation that never reached the password check is given back', async () => {
    const rl = limits({ RATE_SIGNIN_FAIL_PER_EMAIL_IP: '2', RATE_SIGNIN_FAIL_PER_EMAIL_DAY: '2' });
    const key = emailKey();
    const ip = uniqueIp();
    for (let i = 0; i < 5; i++) await (await rl.reserveSignin(key, ip)).cancel();
    const a = await rl.reserveSignin(key, ip);
    const b = await rl.reserveSignin(key, ip);
    expect(await refusal(rl.reserveSignin(key, ip))).toEqual({ code: 'RATE_LIMITED', retry: true });
    await a.failed();
    await b.succeeded();
    await rl.reserveSignin(key, ip);
  });

  it('signup and resend are capped per source and per email, each budget on its own', async () => {
    const rl = limits({ RATE_SIGNUP_PER_IP_HOUR: '3', RATE_SIGNUP_PER_EMAIL_HOUR: '2' });
    const ip = uniqueIp();
    for (let i = 0; i < 3; i++) await rl.codeRequested(emailKey(), ip);
    expect(await refusal(rl.codeRequested(emailKey(), ip))).toEqual({ code: 'RATE_LIMITED', retry: true });
    // Another source still asks for codes; one email is capped whatever the source.
    const email = emailKey();
    await rl.codeRequested(email, uniqueIp());
    await rl.codeRequested(email, uniqueIp());
    expect(await refusal(rl.codeRequested(email, uniqueIp()))).toEqual({ code: 'RATE_LIMITED', retry: true });
  });

  it('failed sign-ins are capped per source across every email (password spraying); a success is not counted', async () => {
    const rl = limits({ RATE_SIGNIN_FAIL_PER_IP_DAY: '3' });
    const ip = uniqueIp();
    await (await rl.reserveSignin(emailKey(), ip)).succeeded();
    for (let i = 0; i < 3; i++) await (await rl.reserveSignin(emailKey(), ip)).failed();
    expect(await refusal(rl.reserveSignin(emailKey(), ip))).toEqual({ code: 'RATE_LIMITED', retry: true });
    await (await rl.reserveSignin(emailKey(), uniqueIp())).failed();
  });

  it('failures per (email, source) past the limit block that pair with a growing back-off', async () => {
    const rl = limits({ RATE_SIGNIN_FAIL_PER_EMAIL_IP: '2' });
    const key = emailKey();
    const ip = uniqueIp();
    for (let i = 0; i < 2; i++) await (await rl.reserveSignin(key, ip)).failed();
    const err = await rl.reserveSignin(key, ip).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    // Blocked for a minute at least (the first step of the back-off), not just until the window turns.
    expect((err as AppError).details.retryAfterSeconds as number).toBeGreaterThanOrEqual(59);
    // The same email from another source is not blocked.
    await (await rl.reserveSignin(key, uniqueIp())).failed();
  });

  it('with RATE_LIMITS_ENABLED=false nothing is counted', async () => {
    const one = { RATE_SIGNUP_PER_IP_HOUR: '1', RATE_SIGNUP_PER_EMAIL_HOUR: '1', RATE_VERIFY_PER_EMAIL_DAY: '1', RATE_VERIFY_PER_IP_15MIN: '1', RATE_SIGNIN_FAIL_PER_EMAIL_IP: '1', RATE_SIGNIN_FAIL_PER_EMAIL_DAY: '1', RATE_SIGNIN_FAIL_PER_IP_DAY: '1', RATE_SIGNIN_FAIL_PER_DEVICE: '1' };
    const off = limits({ ...one, RATE_LIMITS_ENABLED: 'false' });
    const on = limits(one);
    const ip = uniqueIp();
    const key = emailKey();
    const device = randomBytes(8).toString('hex');
    for (let i = 0; i < 3; i++) {
      await off.codeRequested(key, ip);
      expect((await off.consumeVerifyEmailAttempt(key)).remaining).toBe(1);
      await off.refundVerifyEmailAttempt(key);
      await off.consumeVerifySource(ip);
      await off.refundVerifySource(ip);
      await (await off.reserveSignin(key, ip, device)).failed();
      await (await off.reserveSignin(key, ip)).failed();
    }
    // Nothing was written: the same budgets, switched on, are whole (and no refund made them larger).
    await on.codeRequested(key, ip);
    expect((await on.consumeVerifyEmailAttempt(key)).remaining).toBe(0);
    await on.consumeVerifySource(ip);
    expect(await refusal(on.consumeVerifySource(ip))).toEqual({ code: 'RATE_LIMITED', retry: true });
    await (await on.reserveSignin(key, ip, device)).failed();
    await (await on.reserveSignin(key, ip)).failed();
  });

  it('a verification for an email without a pending signup counts down like a wrong code, and locks at 0', async () => {
    const rl = limits({ MAX_CODE_ATTEMPTS: '3' });
    const key = emailKey();
    expect([await rl.verifyMissed(key), await rl.verifyMissed(key), await rl.verifyMissed(key)]).toEqual([2, 1, 0]);
    expect(await rl.verifyMissed(key)).toBe(0);
    expect(await rl.verifyMissed(emailKey())).toBe(2);
  });

  it('a trusted device signs in on its own budget, untouched by failures elsewhere; past it, it draws on the email budget', async () => {
    const rl = limits({ RATE_SIGNIN_FAIL_PER_DEVICE: '2', RATE_SIGNIN_FAIL_PER_EMAIL_IP: '50', RATE_SIGNIN_FAIL_PER_EMAIL_DAY: '3' });
    const key = emailKey();
    const device = randomBytes(8).toString('hex');
    // An attacker spends the email's whole budget from many sources.
    for (let i = 0; i < 3; i++) await (await rl.reserveSignin(key, uniqueIp())).failed();
    expect(await refusal(rl.reserveSignin(key, uniqueIp()))).toEqual({ code: 'RATE_LIMITED', retry: true });
    // The owner's device still has its own two attempts; a success resets them.
    const ip = uniqueIp();
    await (await rl.reserveSignin(key, ip, device)).failed();
    await (await rl.reserveSignin(key, ip, device)).succeeded();
    await (await rl.reserveSignin(key, ip, device)).failed();
    await (await rl.reserveSignin(key, ip, device)).cancel();
    await (await rl.reserveSignin(key, ip, device)).failed();
    // Its budget spent, the device is an untrusted client: the spent email budget refuses it.
    expect(await refusal(rl.reserveSignin(key, ip, device))).toEqual({ code: 'RATE_LIMITED', retry: true });
    // Another device of the same account has a budget of its own.
    await (await rl.reserveSignin(key, ip, randomBytes(8).toString('hex'))).failed();
  });

  /** The refusal's Retry-After, after checking it is a 429 of the given scope whose message says the same wait. */
  const retryAfter = async (p: Promise<unknown>, scope: string): Promise<number> => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    const appErr = err as AppError;
    expect(appErr.code).toBe('RATE_LIMITED');
    // The scope is what the audit line `rate_limited` names.
    expect(appErr.cause).toBe(scope);
    const seconds = appErr.details.retryAfterSeconds as number;
    expect(appErr.message).toBe(`Too many requests. Try again in ${seconds} seconds.`);
    return seconds;
  };

  it('each time the (email, source) limit is passed again the block doubles: 1, 2, 4 … minutes, at most an hour; a success starts over', async () => {
    const rl = limits({ RATE_SIGNIN_FAIL_PER_EMAIL_IP: '2' });
    const key = emailKey();
    const ip = uniqueIp();
    // A block ends when its Redis key expires; deleting the key stands for the wait. The count of
    // blocks (the back-off's exponent) is kept for a day, apart from it.
    const blockEnds = () => redis.del(`rl-test:signin-email-ip:${key}:${ip}`);
    const passLimit = async () => {
      for (let i = 0; i < 2; i++) await (await rl.reserveSignin(key, ip)).failed();
      const seconds = await retryAfter(rl.reserveSignin(key, ip), 'signin');
      await blockEnds();
      return seconds;
    };
    const blocks: number[] = [];
    for (let i = 0; i < 8; i++) blocks.push(await passLimit());
    const minutes = [1, 2, 4, 8, 16, 32, 60, 60];
    // Retry-After is the block's remaining time: its full length, give or take the seconds the test took.
    blocks.forEach((seconds, i) => {
      expect(seconds).toBeLessThanOrEqual(minutes[i] * 60);
      expect(seconds).toBeGreaterThan(minutes[i] * 60 - 10);
    });
    await (await rl.reserveSignin(key, ip)).succeeded();
    const afterSuccess = await passLimit();
    expect(afterSuccess).toBeLessThanOrEqual(60);
    expect(afterSuccess).toBeGreaterThan(50);
  });

  it('attempts in flight past the (email, source) limit wait for the 15-minute window, and a refused attempt stays counted', async () => {
    const rl = limits({ RATE_SIGNIN_FAIL_PER_EMAIL_IP: '2' });
    const key = emailKey();
    const ip = uniqueIp();
    const a = await rl.reserveSignin(key, ip);
    const b = await rl.reserveSignin(key, ip);
    const wait = await retryAfter(rl.reserveSignin(key, ip), 'signin');
    expect(wait).toBeLessThanOrEqual(15 * 60);
    expect(wait).toBeGreaterThan(14 * 60);
    // Both in-flight attempts never reached the check: their points come back, the refused one's does not.
    await a.cancel();
    await b.cancel();
    await rl.reserveSignin(key, ip);
    await retryAfter(rl.reserveSignin(key, ip), 'signin');
  });

  it('a refusal gives back what the other budgets took, and its Retry-After is the longest wait among the refusing budgets', async () => {
    const rl = limits({ RATE_SIGNIN_FAIL_PER_EMAIL_IP: '1', RATE_SIGNIN_FAIL_PER_EMAIL_DAY: '3', RATE_SIGNIN_FAIL_PER_IP_DAY: '1000' });
    const key = emailKey();
    const ip = uniqueIp();
    await (await rl.reserveSignin(key, ip)).failed();
    // The pair is blocked for a minute; its refusals take nothing from the email's daily budget.
    for (let i = 0; i < 5; i++) expect(await retryAfter(rl.reserveSignin(key, ip), 'signin')).toBeLessThanOrEqual(60);
    await (await rl.reserveSignin(key, uniqueIp())).failed();
    await (await rl.reserveSignin(key, uniqueIp())).failed();
    // Now the email's day is spent too: a day's wait, not the pair's minute.
    expect(await retryAfter(rl.reserveSignin(key, ip), 'signin')).toBeGreaterThan(23 * 3600);
  });

  it('a trusted device whose own budget is spent signs in as an untrusted client, on the budgets the email has left', async () => {
    const rl = limits({ RATE_SIGNIN_FAIL_PER_DEVICE: '1', RATE_SIGNIN_FAIL_PER_EMAIL_IP: '50', RATE_SIGNIN_FAIL_PER_EMAIL_DAY: '2' });
    const key = emailKey();
    const ip = uniqueIp();
    const device = randomBytes(8).toString('hex');
    await (await rl.reserveSignin(key, ip, device)).failed();
    await (await rl.reserveSignin(key, ip, device)).failed();
    await (await rl.reserveSignin(key, ip, device)).failed();
    expect(await retryAfter(rl.reserveSignin(key, ip, device), 'signin')).toBeGreaterThan(23 * 3600);
  });

  it('each refusal names its scope and waits for its own window', async () => {
    const rl = limits({ RATE_SIGNUP_PER_IP_HOUR: '1', RATE_VERIFY_PER_IP_15MIN: '1', RATE_VERIFY_PER_EMAIL_DAY: '1' });
    const ip = uniqueIp();
    await rl.codeRequested(emailKey(), ip);
    const code = await retryAfter(rl.codeRequested(emailKey(), ip), 'code');
    expect(code).toBeLessThanOrEqual(3600);
    expect(code).toBeGreaterThan(3500);
    await rl.consumeVerifySource(ip);
    const verify = await retryAfter(rl.consumeVerifySource(ip), 'verify');
    expect(verify).toBeLessThanOrEqual(15 * 60);
    expect(verify).toBeGreaterThan(14 * 60);
    const key = emailKey();
    await rl.consumeVerifyEmailAttempt(key);
    expect(await retryAfter(rl.consumeVerifyEmailAttempt(key), 'verify-email')).toBeGreaterThan(23 * 3600);
  });

  describe('when Redis does not answer', () => {
    let proxy: TcpProxy;
    let down: Redis;
    beforeAll(async () => {
      proxy = await startTcpProxy(Number(new URL(testConfig().REDIS_URL).port || 6379));
      // As the API's client: no offline queue, so a command fails at once while Redis is away.
      down = new Redis(`redis://127.0.0.1:${proxy.port}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
      down.on('error', () => undefined);
      await eventually(async () => (down.status === 'ready' ? true : undefined), 10_000, 'the client reaching Redis');
    });
    afterAll(async () => {
      proxy.setMode('forward');
      // Closed once reconnected: a client closed while it waits to reconnect keeps a timer alive.
      await eventually(async () => (down.status === 'ready' ? true : undefined), 10_000, 'the client reaching Redis again');
      await down.quit();
      await proxy.close();
    });

    it('every budget answers 503 UNAVAILABLE (dependency redis), never a pass or a 429', async () => {
      const rl = new RateLimits(down, testConfig({ RATE_LIMIT_KEY_PREFIX: 'rl-test', RATE_SIGNIN_FAIL_PER_EMAIL_IP: '1' }));
      const key = emailKey();
      const ip = uniqueIp();
      const pending = await rl.reserveSignin(key, ip);
      const onDevice = await rl.reserveSignin(key, ip, randomBytes(8).toString('hex'));
      proxy.setMode('refuse');
      await eventually(async () => (down.status !== 'ready' ? true : undefined), 10_000, 'the client noticing Redis is gone');
      const calls: [string, () => Promise<unknown>][] = [
        ['reserveSignin', () => rl.reserveSignin(key, ip)],
        ['reserveSignin on a device', () => rl.reserveSignin(key, ip, 'some-device')],
        ['succeeded', () => pending.succeeded()],
        ['failed (past the limit: the back-off)', () => pending.failed()],
        ['cancel', () => pending.cancel()],
        ['device succeeded', () => onDevice.succeeded()],
        ['device cancel', () => onDevice.cancel()],
        ['codeRequested', () => rl.codeRequested(key, ip)],
        ['verifyMissed', () => rl.verifyMissed(key)],
        ['consumeVerifyEmailAttempt', () => rl.consumeVerifyEmailAttempt(key)],
        ['refundVerifyEmailAttempt', () => rl.refundVerifyEmailAttempt(key)],
        ['consumeVerifySource', () => rl.consumeVerifySource(ip)],
        ['refundVerifySource', () => rl.refundVerifySource(ip)],
      ];
      const outcomes: Record<string, unknown> = {};
      for (const [name, call] of calls) {
        outcomes[name] = await call().then(
          () => 'passed',
          (e: unknown) => (e instanceof AppError ? { code: e.code, dependency: e.details.dependency } : String(e)),
        );
      }
      expect(outcomes).toEqual(Object.fromEntries(calls.map(([name]) => [name, { code: 'UNAVAILABLE', dependency: 'redis' }])));
      proxy.setMode('forward');
    });
  });
});
