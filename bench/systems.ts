import type { Bench } from './context';
import type { System } from './lib/load';
import { sleep } from '../testkit/wait';

/** The systems under test (ours and the two peers) and the HTTP helpers the scenarios share. */

export interface Sut {
  system: System;
  tag: string;
  url: string;
  stalledUrl: string;
  headers: Record<string, string>;
  signup: { path: string; body: (email: string) => string; expect: number[] };
  verify: { path: string; expect: number[] };
  signin: { path: string; expect: number[] };
  me: { path: string; expect: number[]; ok?: (body: string) => boolean };
  logout: { path: string; expect: number[] };
  /** Accounts that exist, with the password. */
  /** `device`: the device cookie its verify set (a returning user signs in from the same browser). */
  users: { email: string; password: string; device?: string }[];
  /** Live sessions as a Cookie header value. */
  sessions: string[];
}

export const json = (o: unknown) => JSON.stringify(o);
export const ourPaths = (p: string) => `/api/v1/auth${p}`;

export function makeSuts(ctx: Bench): Sut[] {
  const common = { users: [], sessions: [] };
  const ours: Sut = {
    system: 'ours', tag: 'o', url: `http://127.0.0.1:${ctx.ports.api}`, stalledUrl: `http://127.0.0.1:${ctx.ports.apiStalled}`, headers: {},
    signup: { path: ourPaths('/signup'), body: (email) => json({ email }), expect: [202] },
    verify: { path: ourPaths('/verify'), expect: [201] },
    signin: { path: ourPaths('/signin'), expect: [200] },
    me: { path: ourPaths('/me'), expect: [200] },
    logout: { path: ourPaths('/logout'), expect: [204] },
    ...common,
  };
  const direct: Sut = {
    ...ours, system: 'direct', tag: 'd', url: `http://127.0.0.1:${ctx.ports.direct}`, stalledUrl: `http://127.0.0.1:${ctx.ports.directStalled}`, users: [], sessions: [],
  };
  const baUrl = `http://127.0.0.1:${ctx.ports.ba}`;
  const ba: Sut = {
    system: 'better-auth', tag: 'ba', url: baUrl, stalledUrl: `http://127.0.0.1:${ctx.ports.baStalled}`,
    // better-auth refuses cookie-bearing POSTs without a trusted Origin (its CSRF check): see headersFor.
    headers: { origin: baUrl },
    signup: { path: '/api/auth/email-otp/send-verification-otp', body: (email) => json({ email, type: 'sign-in' }), expect: [200] },
    verify: { path: '/bench/verify', expect: [201] },
    signin: { path: '/api/auth/sign-in/email', expect: [200] },
    me: { path: '/api/auth/get-session', expect: [200], ok: (b) => b !== 'null' && b.includes('"session"') },
    logout: { path: '/api/auth/sign-out', expect: [200] },
    users: [], sessions: [],
  };
  return ctx.noPeers ? [ours] : [ours, direct, ba];
}

/** better-auth checks Origin against its own base URL: each instance gets its own. */
export const headersFor = (sut: Sut, url: string): Record<string, string> => (sut.system === 'better-auth' ? { origin: url } : {});

export const passwordFor = (email: string) => `pw-${email.slice(0, 24)}-Xq7!`;

function cookiePair(headers: Record<string, string | string[]>, name: RegExp): string | undefined {
  const raw = headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  for (const c of list) {
    const pair = c.split(';')[0];
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(eq + 1).length > 0 && name.test(pair.slice(0, eq))) return pair;
  }
  return undefined;
}

export const sessionCookie = (headers: Record<string, string | string[]>) => cookiePair(headers, /auth_token|session_token/);
/** Our API's device cookie (a sign-in without it is a new device: a notice is mailed). */
export const deviceCookie = (headers: Record<string, string | string[]>) => cookiePair(headers, /auth_device/);

/** Keeps the session cookie of an answer (for the /me and logout scenarios); true when there was one. */
export function keepSession(sut: Sut, headers: Record<string, string | string[]>): boolean {
  const cookie = sessionCookie(headers);
  if (cookie) sut.sessions.push(cookie);
  return cookie !== undefined;
}


export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(60_000) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`POST ${url}: ${(err as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`);
  }
}

export function cookieFromFetch(h: Headers): string | undefined {
  return sessionCookie({ 'set-cookie': h.getSetCookie() });
}

export async function pooled<T>(items: T[], concurrency: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/**
 * Waits until a system has worked off what an earlier run left in flight (a time-boxed bcrypt run
 * leaves up to 50 hashes queued in its thread pool): a cheap request must answer fast twice in a row.
 */
export async function settle(sut: Sut, maxS = 20): Promise<void> {
  const url = `${sut.url}${sut.system === 'ours' ? '/health/live' : '/health/ready'}`;
  const until = Date.now() + maxS * 1000;
  let fast = 0;
  while (Date.now() < until && fast < 2) {
    const t = performance.now();
    try {
      await fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => r.text());
    } catch {
      // busy
    }
    fast = performance.now() - t < 30 ? fast + 1 : 0;
    if (fast < 2) await sleep(100);
  }
}

