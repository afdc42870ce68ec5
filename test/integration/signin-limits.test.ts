import bcrypt from 'bcrypt';
import { createAccount } from '../../testkit/accounts';
import { uniqueIp } from '../../testkit/env';
import { ApiClient, deviceCookieOf, type HttpResponse } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';

const from = (sys: System, ip: string, headers: Record<string, string> = {}) => new ApiClient(sys.apiUrl, { 'x-forwarded-for': ip, ...headers });

describe('sign-in limits hold under parallel attack and never lock the owner out', () => {
  const PER_EMAIL_IP = 5;
  const PER_EMAIL = 10;
  let sys: System;
  let compare: jest.SpyInstance;
  beforeAll(async () => {
    sys = await startSystem({
      env: {
        RATE_SIGNIN_FAIL_PER_EMAIL_IP: String(PER_EMAIL_IP),
        RATE_SIGNIN_FAIL_PER_EMAIL_DAY: String(PER_EMAIL),
        RATE_SIGNIN_FAIL_PER_DEVICE: '3',
      },
    });
  });
  beforeEach(() => {
    compare = jest.spyOn(bcrypt, 'compare');
  });
  afterEach(() => compare.mockRestore());
  afterAll(async () => {
    await sys?.close();
  });

  const burst = (clients: ApiClient[], email: string) =>
    Promise.all(clients.map((c) => c.post('/signin', { email, password: 'a wrong guess, again' })));

  const expectOnlyLimitedOrWrong = (answers: HttpResponse[], limit: number) => {
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(limit);
    for (const r of answers.filter((a) => a.status === 429)) {
      expect(r.body.code).toBe('RATE_LIMITED');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  };

  it('50 parallel wrong passwords from one address: at most the (email, address) limit reach bcrypt, the rest get 429 with Retry-After', async () => {
    const acct = await createAccount(sys.apiUrl, 'burst-ip');
    const ip = uniqueIp();
    compare.mockClear();
    const answers = await burst(Array.from({ length: 50 }, () => from(sys, ip)), acct.email);
    expect(compare.mock.calls.length).toBeLessThanOrEqual(PER_EMAIL_IP);
    expectOnlyLimitedOrWrong(answers, PER_EMAIL_IP);
    expect(answers.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(50 - PER_EMAIL_IP);
  });

  it('50 parallel wrong passwords from 50 addresses: at most the per-email limit reach bcrypt', async () => {
    const acct = await createAccount(sys.apiUrl, 'burst-spread');
    compare.mockClear();
    const answers = await burst(Array.from({ length: 50 }, () => from(sys, uniqueIp())), acct.email);
    expect(compare.mock.calls.length).toBeLessThanOrEqual(PER_EMAIL);
    expectOnlyLimitedOrWrong(answers, PER_EMAIL);
    expect(answers.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(50 - PER_EMAIL);
  });

  it('an attacker who knows only the email exhausts its budget from many addresses; the owner on a device that signed in before still signs in', async () => {
    const acct = await createAccount(sys.apiUrl, 'owner');
    const ownerIp = uniqueIp();
    const first = await from(sys, ownerIp).post('/signin', { email: acct.email, password: acct.password });
    expect(first.status).toBe(200);
    const device = deviceCookieOf(first);
    const cookie = first.headers.getSetCookie().find((c) => c.startsWith('auth_device='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
    expect(device).not.toContain(acct.email);

    // The attacker spends the whole per-email budget from addresses the owner does not use.
    await burst(Array.from({ length: PER_EMAIL + 5 }, () => from(sys, uniqueIp())), acct.email);
    const locked = await from(sys, uniqueIp()).post('/signin', { email: acct.email, password: acct.password });
    expect(locked.status).toBe(429); // an untrusted client, even with the right password

    // Same owner address, no device cookie: untrusted, so the per-email lockout applies.
    expect((await from(sys, ownerIp).post('/signin', { email: acct.email, password: acct.password })).status).toBe(429);
    // With the device cookie: not throttled by the failures from elsewhere.
    const owner = await from(sys, ownerIp, { cookie: device }).post('/signin', { email: acct.email, password: acct.password });
    expect(owner.status).toBe(200);
    expect(owner.body.user.id).toBe(acct.user.id);
    // ... and from another address too: the cookie, not the address, is what is trusted.
    expect((await from(sys, uniqueIp(), { cookie: device }).post('/signin', { email: acct.email, password: acct.password })).status).toBe(200);
  });

  it('the device that verified the signup is trusted from the start', async () => {
    const email = `verified.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@test.example.com`;
    const password = 'a sturdy test passphrase';
    const c = from(sys, uniqueIp());
    expect((await c.post('/signup', { email })).status).toBe(202);
    const verified = await c.post('/verify', { email, otp: await waitForCode(email), password, name: 'Verified Owner' });
    expect(verified.status).toBe(201);
    const device = deviceCookieOf(verified);
    await burst(Array.from({ length: PER_EMAIL + 2 }, () => from(sys, uniqueIp())), email);
    expect((await from(sys, uniqueIp()).post('/signin', { email, password })).status).toBe(429);
    expect((await from(sys, uniqueIp(), { cookie: device }).post('/signin', { email, password })).status).toBe(200);
  });

  it('a device cookie counts only for its own account and cannot be forged', async () => {
    const victim = await createAccount(sys.apiUrl, 'victim');
    const attacker = await createAccount(sys.apiUrl, 'attacker');
    const mine = deviceCookieOf(await from(sys, uniqueIp()).post('/signin', { email: attacker.email, password: attacker.password }));
    await burst(Array.from({ length: PER_EMAIL + 2 }, () => from(sys, uniqueIp())), victim.email);

    // The attacker's own device cookie does not lift the victim's lockout.
    compare.mockClear();
    expect((await from(sys, uniqueIp(), { cookie: mine }).post('/signin', { email: victim.email, password: 'guess' })).status).toBe(429);
    // Nor does an altered one.
    const [name, value] = mine.split('=');
    const parts = value.split('.');
    const forged = `${name}=${[parts[0], parts[1], 'A'.repeat(22), parts[3]].join('.')}`;
    expect((await from(sys, uniqueIp(), { cookie: forged }).post('/signin', { email: victim.email, password: 'guess' })).status).toBe(429);
    expect(compare).not.toHaveBeenCalled();
  });

  it('a device has a small budget of its own; past it, it is an untrusted client again', async () => {
    const acct = await createAccount(sys.apiUrl, 'device-budget');
    const device = deviceCookieOf(await from(sys, uniqueIp()).post('/signin', { email: acct.email, password: acct.password }));
    // The per-email budget is spent by someone else: only the device's own budget (3) is left.
    await burst(Array.from({ length: PER_EMAIL + 2 }, () => from(sys, uniqueIp())), acct.email);
    compare.mockClear();
    const answers = await Promise.all(Array.from({ length: 10 }, () => from(sys, uniqueIp(), { cookie: device }).post('/signin', { email: acct.email, password: 'wrong wrong wrong' })));
    expect(compare.mock.calls.length).toBeLessThanOrEqual(3);
    expectOnlyLimitedOrWrong(answers, 3);
    expect((await from(sys, uniqueIp(), { cookie: device }).post('/signin', { email: acct.email, password: acct.password })).status).toBe(429);
  });

  it('an owner who mistyped on their device past its budget still signs in there, as an untrusted client', async () => {
    const acct = await createAccount(sys.apiUrl, 'typos');
    const ip = uniqueIp();
    const device = deviceCookieOf(await from(sys, ip).post('/signin', { email: acct.email, password: acct.password }));
    for (let i = 0; i < 3; i++) expect((await from(sys, uniqueIp(), { cookie: device }).post('/signin', { email: acct.email, password: 'typo typo typo' })).status).toBe(401);
    expect((await from(sys, uniqueIp(), { cookie: device }).post('/signin', { email: acct.email, password: acct.password })).status).toBe(200);
  });

  it('IPv6 addresses of one /64 share a limit; another /64 has its own', async () => {
    const acct = await createAccount(sys.apiUrl, 'v6');
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
    const answers: number[] = [];
    for (let i = 0; i < PER_EMAIL_IP; i++) {
      answers.push((await from(sys, `${prefix}::${(i + 1).toString(16)}`).post('/signin', { email: acct.email, password: 'wrong guess' })).status);
    }
    expect(answers).toEqual(Array(PER_EMAIL_IP).fill(401));
    // A fresh address in the same /64 is the same source: limited, even with the right password.
    const same = await from(sys, `${prefix}:ffff:ffff:ffff:fffe`).post('/signin', { email: acct.email, password: acct.password });
    expect(same.status).toBe(429);
    // The neighbouring /64 is another source.
    const other = await from(sys, `2001:db8:ffff:${Math.floor(Math.random() * 0xffff).toString(16)}::1`).post('/signin', { email: acct.email, password: acct.password });
    expect(other.status).toBe(200);
  });
});
