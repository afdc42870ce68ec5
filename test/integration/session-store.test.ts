import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { SessionStore, type SessionProfile } from '../../api/sessions/session.store';
import { testConfig } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';

/** The session store and its Lua scripts on the stack's real Redis; each test has users of its own. */
describe('session store on real Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(testConfig().REDIS_URL);
  });
  afterAll(() => redis.disconnect());

  const profile = (): SessionProfile => ({ id: randomUUID(), email: `${randomUUID()}@test.example.com`, name: 'Store Test', createdAt: new Date().toISOString() });
  const store = (opts: Partial<{ absoluteMs: number; idleMs: number; touchEveryMs: number }> = {}) =>
    new SessionStore(redis, { absoluteMs: 600_000, idleMs: 600_000, touchEveryMs: 60_000, ...opts });

  it('a new session has a fresh 256-bit id and loads back with its user and profile', async () => {
    const s = store();
    const p = profile();
    const before = Date.now();
    const a = await s.create(p, { userAgent: 'ua', ip: '10.0.0.1' }, { amr: ['pwd', 'otp'] });
    const b = await s.create(p, {});
    expect(a.sid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.sid).not.toBe(a.sid);
    const loaded = await s.load(a.sid);
    expect(loaded).toEqual({ uid: p.id, profile: p, auth: { amr: ['pwd', 'otp'], authTime: expect.any(Number), partial: false } });
    expect(loaded!.auth.authTime).toBeGreaterThanOrEqual(before);
    // Made without amr (as sessions from before it was recorded): unknown, so empty.
    expect(await s.load(b.sid)).toEqual({ uid: p.id, profile: p, auth: { amr: [], authTime: expect.any(Number), partial: false } });
    expect(await s.load('no-such-session')).toBeUndefined();
  });

  it('only its owner revokes a session; a revoked session no longer loads nor lists', async () => {
    const s = store();
    const owner = profile();
    const { sid } = await s.create(owner, {});
    expect(await s.revoke(randomUUID(), sid)).toBe(false);
    expect(await s.load(sid)).toBeDefined();
    expect(await s.revoke(owner.id, sid)).toBe(true);
    expect(await s.load(sid)).toBeUndefined();
    expect(await s.list(owner.id)).toEqual([]);
    expect(await s.revoke(owner.id, sid)).toBe(false);
  });

  it('lists a user’s sessions newest first with their user agent and IP, and drops the ones that are gone', async () => {
    const s = store();
    const p = profile();
    const first = await s.create(p, { userAgent: 'first-agent', ip: '10.0.0.1' });
    await sleep(5); // the index orders by creation time in ms
    const second = await s.create(p, {});
    const list = await s.list(p.id);
    expect(list.map((x) => x.id)).toEqual([second.sid, first.sid]);
    expect(list[1]).toMatchObject({ userAgent: 'first-agent', ip: '10.0.0.1' });
    expect(list[0]).toMatchObject({ userAgent: null, ip: null });
    expect(Date.parse(list[0].createdAt)).toBeGreaterThanOrEqual(Date.parse(list[1].createdAt));
    await redis.del(`sess:${first.sid}`);
    expect((await s.list(p.id)).map((x) => x.id)).toEqual([second.sid]);
    expect(await redis.zrange(`usess:${p.id}`, 0, -1)).toEqual([second.sid]);
  });

  it('logout everywhere ends every session of the user and no one else’s', async () => {
    const s = store();
    const p = profile();
    const other = profile();
    const mine = [await s.create(p, {}), await s.create(p, {})];
    const theirs = await s.create(other, {});
    expect(await s.revokeAll(p.id)).toBe(2);
    for (const m of mine) expect(await s.load(m.sid)).toBeUndefined();
    expect(await s.load(theirs.sid)).toBeDefined();
    expect(await s.revokeAll(p.id)).toBe(0);
  });

  it('a session ends at its absolute lifetime even while in use, and is deleted then', async () => {
    const s = store({ absoluteMs: 600, touchEveryMs: 0 });
    const { sid } = await s.create(profile(), {});
    expect(await s.load(sid)).toBeDefined();
    await eventually(async () => ((await s.load(sid)) === undefined ? true : undefined), 5_000, 'the absolute expiry');
    expect(await redis.exists(`sess:${sid}`)).toBe(0);
  });

  it('use renews the idle timeout, never beyond the absolute lifetime; unused, the session ends', async () => {
    const s = store({ idleMs: 700, absoluteMs: 600_000, touchEveryMs: 0 });
    const { sid } = await s.create(profile(), {});
    for (let i = 0; i < 6; i++) {
      expect(await s.load(sid)).toBeDefined();
      const ttl = await redis.pttl(`sess:${sid}`);
      expect(ttl).toBeGreaterThan(400);
      expect(ttl).toBeLessThanOrEqual(700);
      await sleep(250);
    }
    // Watched without loading (a load would renew it).
    await eventually(async () => ((await redis.exists(`sess:${sid}`)) === 0 ? true : undefined), 5_000, 'the idle expiry');
    expect(await s.load(sid)).toBeUndefined();

    const capped = store({ idleMs: 600_000, absoluteMs: 2_000, touchEveryMs: 0 });
    const c = await capped.create(profile(), {});
    await capped.load(c.sid);
    expect(await redis.pttl(`sess:${c.sid}`)).toBeLessThanOrEqual(2_000);
  });

  it('a load refreshes lastSeenAt only once per touch interval', async () => {
    const rarely = store({ touchEveryMs: 60_000 });
    const p = profile();
    const { sid } = await rarely.create(p, {});
    const before = await redis.hget(`sess:${sid}`, 'lastSeenAt');
    await sleep(5);
    await rarely.load(sid);
    expect(await redis.hget(`sess:${sid}`, 'lastSeenAt')).toBe(before);
    await store({ touchEveryMs: 1 }).load(sid);
    expect(Number(await redis.hget(`sess:${sid}`, 'lastSeenAt'))).toBeGreaterThan(Number(before));
  });
});
