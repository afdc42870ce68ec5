import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { ReplyError, type Result } from 'ioredis';
import { unavailable } from '../../common/errors';
import { metrics } from '../../common/metrics';

export interface SessionProfile {
  id: string;
  email: string;
  name: string;
  createdAt: string;
}

export interface SessionMeta {
  userAgent?: string;
  ip?: string;
}

/**
 * How a session was authenticated. `amr`: the methods (RFC 8176: `pwd`, `otp`), `authTime`: when
 * the user last proved them (ms; a sign-in or a /reauth). `partial`: the password was right and the
 * second factor is still owed; such a session can only finish the sign-in (POST /signin/mfa).
 */
/**
 * How the user proved who they are (RFC 8176 `amr` values; `rc`: a recovery code of the second
 * factor). `swk`: a passkey (proof of possession of a key; `swk`, not `hwk`, because attestation is
 * not asked for, so nothing tells a hardware-bound key from a synced one). `mfa`: the passkey
 * verified the user itself (PIN or biometric), so a passkey alone counts as two factors.
 */
export type AuthMethod = 'pwd' | 'otp' | 'rc' | 'swk' | 'mfa';

export interface SessionAuth {
  /** Empty for sessions made before it was recorded (how they were authenticated is unknown). */
  amr: AuthMethod[];
  authTime: number;
  partial: boolean;
}

export interface LoadedSession {
  uid: string;
  profile: SessionProfile;
  auth: SessionAuth;
}

export interface SessionInfo {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  userAgent: string | null;
  ip: string | null;
}

const sessKey = (sid: string) => `sess:${sid}`;
const userKey = (uid: string) => `usess:${uid}`;

/**
 * Reads a session and keeps it alive in one round trip. lastSeenAt and the idle TTL are refreshed
 * at most once per `touchEveryMs`, so the hot path (`/me`) is a read almost always.
 * ARGV: now, idleMs, touchEveryMs. Returns {uid, profile} or nil.
 */
const LOAD = `
local v = redis.call('HMGET', KEYS[1], 'uid', 'profile', 'absExp', 'lastSeenAt', 'createdAt', 'authTime', 'amr', 'stage')
if not v[1] then return nil end
local now = tonumber(ARGV[1])
local absExp = tonumber(v[3])
if absExp <= now then
  redis.call('DEL', KEYS[1])
  return nil
end
if now - tonumber(v[4]) >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[2]), absExp - now))
end
return {v[1], v[2], v[6] or v[5], v[7] or '', v[8] or ''}`;

/** Records a new authentication time on a session that exists (and is not partial). ARGV: uid, now. */
const REAUTH = `
local v = redis.call('HMGET', KEYS[1], 'uid', 'stage')
if v[1] ~= ARGV[1] or v[2] == 'mfa' then return 0 end
redis.call('HSET', KEYS[1], 'authTime', ARGV[2])
return 1`;

/** Deletes one session only if it belongs to the given user. */
const REVOKE = `
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1`;


declare module 'ioredis' {
  interface RedisCommander<Context> {
    sessionLoad(key: string, now: number, idleMs: number, touchEveryMs: number): Result<[string, string, string, string, string] | null, Context>;
    sessionReauth(key: string, uid: string, now: number): Result<number, Context>;
    sessionRevoke(key: string, index: string, uid: string, sid: string): Result<number, Context>;
  }
}

/**
 * A Redis that does not answer (refused, closed, timed out, offline queue off) is a 503 for the
 * client; an error reply of Redis itself (a bug in a command or a script here) stays a 500.
 */
async function fromRedis<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw err instanceof ReplyError ? err : unavailable('redis', err);
  }
}

/**
 * Server-side sessions in Redis: `sess:{sid}` (hash) and a per-user index `usess:{uid}` (sorted set
 * by creation time) so listing and revoking all are one or two round trips.
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly opts: { absoluteMs: number; idleMs: number; touchEveryMs?: number },
  ) {
    redis.defineCommand('sessionLoad', { numberOfKeys: 1, lua: LOAD });
    redis.defineCommand('sessionRevoke', { numberOfKeys: 2, lua: REVOKE });
    redis.defineCommand('sessionReauth', { numberOfKeys: 1, lua: REAUTH });
  }

  /**
   * A new 256-bit id from the CSPRNG at every signin and verify. `auth`: how it was authenticated
   * (default: a password, now); a partial session lives `absoluteMs` of its own (the second step's window).
   */
  async create(profile: SessionProfile, meta: SessionMeta, auth: { amr?: readonly AuthMethod[]; partial?: boolean; absoluteMs?: number } = {}): Promise<{ sid: string; expiresAt: number }> {
    const sid = randomBytes(32).toString('base64url');
    const now = Date.now();
    const absoluteMs = auth.absoluteMs ?? this.opts.absoluteMs;
    const absExp = now + absoluteMs;
    await fromRedis(() => this.redis
      .multi()
      .hset(sessKey(sid), {
        uid: profile.id,
        profile: JSON.stringify(profile),
        createdAt: now,
        lastSeenAt: now,
        absExp,
        ua: (meta.userAgent ?? '').slice(0, 256),
        ip: meta.ip ?? '',
        authTime: now,
        amr: (auth.amr ?? []).join(' '),
        stage: auth.partial ? 'mfa' : 'full',
      })
      .pexpire(sessKey(sid), Math.min(this.opts.idleMs, absoluteMs))
      .zadd(userKey(profile.id), now, sid)
      .zremrangebyscore(userKey(profile.id), '-inf', now - this.opts.absoluteMs)
      .pexpire(userKey(profile.id), this.opts.absoluteMs)
      .exec());
    metrics.sessionsCreated.inc();
    return { sid, expiresAt: absExp };
  }

  /** Sessions made before amr existed: amr unknown (empty), authenticated when they were created. */
  async load(sid: string): Promise<LoadedSession | undefined> {
    const row = await fromRedis(() => this.redis.sessionLoad(sessKey(sid), Date.now(), this.opts.idleMs, this.opts.touchEveryMs ?? 60_000));
    if (!row) return undefined;
    const [uid, profile, authTime, amr, stage] = row;
    return { uid, profile: JSON.parse(profile) as SessionProfile, auth: { authTime: Number(authTime), amr: amr ? (amr.split(' ') as AuthMethod[]) : [], partial: stage === 'mfa' } };
  }

  /** The user proved it again (POST /reauth): sensitive actions are open for the re-authentication window. */
  async markAuthenticated(uid: string, sid: string): Promise<boolean> {
    return (await fromRedis(() => this.redis.sessionReauth(sessKey(sid), uid, Date.now()))) === 1;
  }

  async list(uid: string): Promise<SessionInfo[]> {
    const sids = await fromRedis(() => this.redis.zrevrange(userKey(uid), 0, -1));
    if (sids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const sid of sids) pipe.hmget(sessKey(sid), 'createdAt', 'lastSeenAt', 'ua', 'ip');
    const rows = (await fromRedis(() => pipe.exec())) ?? [];
    const out: SessionInfo[] = [];
    const gone: string[] = [];
    rows.forEach(([err, v], i) => {
      const [createdAt, lastSeenAt, ua, ip] = (v ?? []) as (string | null)[];
      if (err || !createdAt) return void gone.push(sids[i]);
      out.push({
        id: sids[i],
        createdAt: new Date(Number(createdAt)).toISOString(),
        lastSeenAt: new Date(Number(lastSeenAt)).toISOString(),
        userAgent: ua || null,
        ip: ip || null,
      });
    });
    if (gone.length) await fromRedis(() => this.redis.zrem(userKey(uid), ...gone));
    return out;
  }

  /** True when the session existed and belonged to `uid`. */
  async revoke(uid: string, sid: string): Promise<boolean> {
    const revoked = (await fromRedis(() => this.redis.sessionRevoke(sessKey(sid), userKey(uid), uid, sid))) === 1;
    if (revoked) metrics.sessionsRevoked.inc();
    return revoked;
  }

  /**
   * Reads the index, then deletes exactly those sessions, each with a single-key command. A script
   * that derived session keys inside Lua touched keys it did not declare, which Redis Cluster
   * refuses (and session keys live in other slots than the index, so even declared they could not
   * share one script call). Deleting is idempotent, so no atomicity is lost that matters: a
   * session created between the read and the deletes stays, as one created just after would.
   */
  async revokeAll(uid: string): Promise<number> {
    return this.revokeAllExcept(uid);
  }

  /** revokeAll, sparing the session `keep` (the one that asked, when it stays signed in). */
  async revokeAllExcept(uid: string, keep?: string): Promise<number> {
    return fromRedis(async () => {
      const sids = (await this.redis.zrange(userKey(uid), 0, -1)).filter((sid) => sid !== keep);
      if (sids.length === 0) return 0;
      await Promise.all(sids.map((sid) => this.redis.unlink(sessKey(sid))));
      await this.redis.zrem(userKey(uid), ...sids);
      metrics.sessionsRevoked.inc(sids.length);
      return sids.length;
    });
  }
}
