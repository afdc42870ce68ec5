/**
 * Property-based fuzzing of every HTTP endpoint (fast-check, fixed seed): random and hostile
 * bodies, content types, cookies, tokens, Origin and other headers, odd paths and methods, plus
 * raw malformed HTTP. Properties: no 5xx, every error is JSON {code, message}, no request hangs;
 * afterwards a normal signup still gets 202 and its code by mail.
 *
 * FUZZ_RUNS (default 300, split 250 HTTP / 50 raw) and FUZZ_SEED change the run.
 */
import fc from 'fast-check';
import { Socket } from 'node:net';
import { uniqueEmail } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const HTTP_RUNS = Math.round(RUNS * (5 / 6));
const RAW_RUNS = RUNS - HTTP_RUNS;
const REQUEST_TIMEOUT_MS = 10_000;
const WEB_ORIGIN = 'http://127.0.0.1:3000';

interface Endpoint {
  method: string;
  path: string;
  body: boolean;
}

const ENDPOINTS: Endpoint[] = [
  { method: 'POST', path: '/signup', body: true },
  { method: 'POST', path: '/resend', body: true },
  { method: 'POST', path: '/verify', body: true },
  { method: 'POST', path: '/signin', body: true },
  { method: 'GET', path: '/me', body: false },
  { method: 'POST', path: '/logout', body: true },
  { method: 'GET', path: '/sessions', body: false },
  { method: 'DELETE', path: '/sessions/:id', body: false },
  { method: 'POST', path: '/logout-all', body: true },
  { method: 'POST', path: '/token', body: true },
];

// ------------------------------------------------------------------------------ arbitraries

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

// What a client can put in a header value (fetch refuses control characters other than tab, and
// characters above U+00FF); the raw-socket test below sends the rest.
const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constant('\t') },
);
const headerText = fc.string({ unit: headerChar, maxLength: 60 }).map((s) => s.trim());

const hugeString = fc
  .tuple(fc.integer({ min: 1_000, max: 40_000 }), fc.constantFrom('a', 'é', '𝕏', '\u0000', '"', '\\', ' ', '0'))
  .map(([n, ch]) => ch.repeat(n));

const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom(
    '', ' ', '\u0000', '\u202e', '\ud800', '\udfff', '😀'.repeat(40), 'a@b', '@', 'a@b.co', ' A@B.CO ', 'x'.repeat(254) + '@b.co',
    '<script>alert(1)</script>@x.io', "' OR 1=1 --", '${jndi:ldap://x}', '__proto__', 'constructor', '123456', '000000', '12345',
    '1234567', '１２３４５６', 'password', 'correct horse battery staple', '\r\nSet-Cookie: x=y', 'null', 'NaN',
  ),
  hugeString,
);

const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)) },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }) },
);

/** Plausible values, so validation sometimes passes and deeper code runs. */
const validish: Record<string, fc.Arbitrary<unknown>> = {
  email: fc.oneof(
    fc.nat({ max: 50 }).map((n) => `fuzz.${n}@fuzz.example.com`),
    fc.constantFrom('FUZZ.1@FUZZ.EXAMPLE.COM ', 'fuzz+tag@fuzz.example.com'),
  ),
  otp: fc.integer({ min: 0, max: 999_999 }).map((n) => String(n).padStart(6, '0')),
  password: fc.oneof(fc.constant('correct horse battery staple'), fc.string({ minLength: 8, maxLength: 80 })),
  name: fc.oneof(fc.constant('Ada Lovelace'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 110 })),
};

const objectBody = fc
  .tuple(
    fc.subarray(['email', 'otp', 'password', 'name']),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')), fieldValue, { maxKeys: 3 }),
    fc.boolean(),
  )
  .chain(([keys, extra, withExtra]) =>
    fc
      .tuple(...keys.map((k) => fc.oneof({ weight: 3, arbitrary: validish[k] }, { weight: 2, arbitrary: fieldValue })))
      .map((values) => {
        const body: Record<string, unknown> = withExtra ? { ...extra } : {};
        keys.forEach((k, i) => (body[k] = values[i]));
        return JSON.stringify(body);
      }),
  );

/** The raw text sent as the body. */
const bodyText: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: objectBody },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '{"__proto__": {"isAdmin": true}, "email": "a@b.co"}',
      '{"constructor": {"prototype": {"polluted": 1}}}',
      '{"email": {"__proto__": {"x": 1}}}',
      '{"email": "a@b.co", "email": "b@c.co"}',
      '[]', 'null', '"string"', '123', 'true', '', ' ', '{', '{"email":', '{"a":1}}', '\u0000',
      '['.repeat(10_000) + ']'.repeat(10_000),
      `{"a":${'['.repeat(3000)}${']'.repeat(3000)}}`,
      JSON.stringify({ email: 'a@b.co', pad: 'x'.repeat(17 * 1024) }),
      JSON.stringify({ email: 'x'.repeat(100_000) }),
      '{"email":"\\ud800@b.co"}',
      '{"email":"a@b.co"}\u0000',
      'email=a%40b.co',
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined, 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
      'application/json; charset=bogus', 'APPLICATION/JSON', 'application/vnd.api+json', 'application/merge-patch+json', 'text/plain',
      'text/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml', '*/*', '', 'application/',
      'application/json, text/plain',
    ),
  },
  { weight: 1, arbitrary: headerText },
);

const jwtLike = fc
  .tuple(
    fc.constantFrom('HS256', 'none', 'RS256', 'HS512', 'ES256', ''),
    fc.record({ sub: fieldValue, sid: fieldValue, exp: fc.oneof(fc.integer(), fc.constant(9_999_999_999)), iss: fc.constantFrom('cfd-broker-auth', 'x'), aud: fc.constantFrom('cfd-broker', 'y') }, { requiredKeys: [] }),
    fc.oneof(fc.constant(''), fc.string({ maxLength: 40 }).map(b64url)),
  )
  .map(([alg, payload, sig]) => `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.${sig}`);

const token = fc.oneof(jwtLike, fc.string({ unit: headerChar, maxLength: 80 }).map((s) => s.trim()), fc.constant('x'.repeat(5000)), fc.constantFrom('', 'null', 'undefined', '..', 'a.b.c'));



const requestArb = fc.record({
  endpoint: fc.constantFrom(...ENDPOINTS),
  method: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') }),
  pathVariant: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('/%ZZ', '/..%2f..%2fetc%2fpasswd', '//', '/%00', '?x=%ZZ', '?__proto__[a]=1', '/' + 'a'.repeat(5000)) },
  ),
  sessionId: fc.oneof(
    fc.string({ minLength: 16, maxLength: 64, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEF0123456789_-') }),
    fc.string({ maxLength: 80 }).map(encodeURIComponent),
    fc.constantFrom('%ZZ', '%E0%A4%A', '%', '..', '%2e%2e', 'a'.repeat(3000), '%00', '__proto__', 'constructor'),
  ),
  body: bodyText,
  contentType,
  cookie: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constant('real') },
    { weight: 3, arbitrary: token.map((t) => `auth_token=${t}`) },
    { weight: 1, arbitrary: fc.string({ unit: headerChar, maxLength: 100 }).map((s) => s.trim()) },
    { weight: 1, arbitrary: fc.constantFrom('auth_token=%ZZ', 'auth_token="unterminated', 'auth_token=a; auth_token=b', 'auth_token', ';;;', '=') },
  ),
  authorization: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: token.map((t) => `Bearer ${t}`) }, { weight: 1, arbitrary: headerText }),
  origin: fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constantFrom(WEB_ORIGIN, 'null', 'http://evil.example', 'http://127.0.0.1:3000/', 'HTTP://127.0.0.1:3000', '') },
    { weight: 1, arbitrary: headerText },
  ),
  requestId: fc.oneof(fc.constant(undefined), headerText, fc.constant('x'.repeat(500))),
  extraHeaders: fc.dictionary(
    fc.constantFrom('accept', 'accept-encoding', 'content-encoding', 'x-forwarded-for', 'x-forwarded-proto', 'forwarded', 'user-agent', 'referer', 'accept-language', 'x-http-method-override', 'if-none-match', 'range', 'cache-control', 'x-custom'),
    fc.oneof(headerText, fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus', '1.2.3.4, 5.6.7.8', 'x'.repeat(6000), 'bytes=0-1', 'DELETE')),
    { maxKeys: 3 },
  ),
});

type FuzzRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

// ------------------------------------------------------------------------------ checks

interface Failure {
  kind: string;
  detail: string;
  repro: string;
}

function curlRepro(method: string, url: string, headers: Record<string, string>, body: string | undefined): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const h = Object.entries(headers).map(([k, v]) => `-H ${q(`${k}: ${v.length > 200 ? `${v.slice(0, 60)}…(${v.length} chars)` : v}`)}`);
  const b = body === undefined ? '' : ` --data-binary ${q(body.length > 300 ? `${body.slice(0, 100)}…(${body.length} chars)` : body)}`;
  return `curl -i -X ${method} ${h.join(' ')} ${q(url)}${b}`;
}

/**
 * No 5xx; errors the application answers are JSON {code: string, message: string}. Node's HTTP
 * parser answers some requests itself (431 headers too large, 400 malformed) before the app sees
 * them, without x-request-id and without a body: those are only held to "no 5xx".
 */
function judge(status: number, headers: Headers | undefined, text: string, method: string): string[] {
  const problems: string[] = [];
  if (status >= 500) problems.push(`status ${status}`);
  if (status >= 400 && method !== 'HEAD' && headers?.has('x-request-id')) {
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      problems.push(`error body is not JSON (content-type ${headers?.get('content-type')})`);
      return problems;
    }
    if (!body || typeof body !== 'object' || typeof body.code !== 'string' || typeof body.message !== 'string') problems.push('error body is not {code, message}');
  }
  return problems;
}

// ------------------------------------------------------------------------------ the tests

describe('API fuzzing (fast-check, fixed seed)', () => {
  let sys: System;
  let origin: string;
  let realCookie = '';
  const failures: Failure[] = [];
  let sent = 0;
  let refusedByClient = 0;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    sys = await startSystem({ webOrigins: [WEB_ORIGIN] });
    origin = new URL(sys.apiUrl).origin;
    // A real account and session, so authenticated paths are fuzzed too.
    const client = new ApiClient(sys.apiUrl);
    const email = uniqueEmail('fuzz-session');
    expect((await client.post('/signup', { email })).status).toBe(202);
    const otp = await waitForCode(email);
    const verify = await client.post('/verify', { email, otp, password: 'correct horse battery staple', name: 'Fuzz Session' });
    expect(verify.status).toBe(201);
    realCookie = client.cookie!;
  });

  afterAll(async () => {
    await sys?.close();
  });

  async function send(r: FuzzRequest): Promise<void> {
    const method = r.method ?? r.endpoint.method;
    let path = `/api/v1/auth${r.endpoint.path.replace(':id', r.sessionId)}`;
    if (r.pathVariant) path = r.pathVariant.startsWith('?') ? path + r.pathVariant : `/api/v1/auth${r.pathVariant}`;
    const url = origin + path;
    const headers: Record<string, string> = { ...r.extraHeaders };
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    if (r.cookie) headers.cookie = r.cookie === 'real' ? realCookie : r.cookie;
    if (r.authorization !== undefined) headers.authorization = r.authorization;
    if (r.origin !== undefined) headers.origin = r.origin;
    if (r.requestId !== undefined) headers['x-request-id'] = r.requestId;
    const body = method === 'GET' || method === 'HEAD' ? undefined : r.body;
    const repro = curlRepro(method, url, headers, body);
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: 'manual' });
    } catch (err) {
      const e = err as Error & { cause?: Error & { code?: string } };
      if (e.name === 'TimeoutError') failures.push({ kind: 'hang', detail: `no answer within ${REQUEST_TIMEOUT_MS} ms`, repro });
      else if ((e.name === 'TypeError' && !e.cause) || e.cause?.code === 'UND_ERR_INVALID_ARG') refusedByClient += 1; // fetch would not send it
      else failures.push({ kind: 'connection error', detail: `${e.cause?.code ?? e.cause?.message ?? e.message}`, repro });
      return;
    }
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    try {
      text = await Promise.race([
        res.text(),
        new Promise<string>((_, reject) => (timer = setTimeout(() => reject(new Error('body timeout')), REQUEST_TIMEOUT_MS))),
      ]);
    } catch (err) {
      failures.push({ kind: 'hang', detail: `response body: ${(err as Error).message}`, repro });
      return;
    } finally {
      clearTimeout(timer);
    }
    sent += 1;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    for (const p of judge(res.status, res.headers, text, method)) {
      failures.push({ kind: `${p}`, detail: `${method} ${r.endpoint.path} → ${res.status} ${text.slice(0, 160)}`, repro });
    }
  }

  it(`answers ${HTTP_RUNS} random HTTP requests without a 5xx, a hang or a malformed error`, async () => {
    await fc.assert(
      // A request that breaks the contract fails the property, so fast-check shrinks it to a minimal one.
      fc.asyncProperty(requestArb, async (r) => {
        const before = failures.length;
        await send(r);
        return failures.length === before;
      }),
      { seed: SEED, numRuns: HTTP_RUNS },
    );
    const summary = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ');
    console.log(`api fuzz: ${sent} requests answered (${summary}); ${refusedByClient} not sendable by fetch; ${failures.length} failures`);
    expect(refusedByClient).toBeLessThan(HTTP_RUNS * 0.2);
    expect(describeFailures(failures)).toEqual([]);
  });

  it(`answers ${RAW_RUNS} malformed raw HTTP requests with a 4xx or a closed connection`, async () => {
    const { port } = new URL(origin);
    const rawFailures: Failure[] = [];
    const rawRequest = fc.record({
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'BREW', 'G E T', '', 'POST\u0000'),
      path: fc.oneof(
        fc.constantFrom('/api/v1/auth/sessions/%ZZ', '/api/v1/auth/signup', '/api/v1/auth/me', '*', 'http://evil/x', '/api/v1/auth/signup?%', '/\u00ff', ''),
        fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((s) => `/api/v1/auth/${s}`),
      ),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra', ''),
      headers: fc.array(
        fc.oneof(
          fc.constantFrom('Content-Type: application/json', 'Content-Length: 5', 'Content-Length: -1', 'Content-Length: 99999999999', 'Transfer-Encoding: chunked', 'Transfer-Encoding: bogus', 'Content-Length: 2\r\nContent-Length: 3', 'Host:', 'X: ' + 'y'.repeat(20_000), 'no colon', ' folded: header', 'Cookie: auth_token=%ZZ'),
          fc.tuple(fc.string({ unit: 'binary-ascii', maxLength: 12 }), fc.string({ unit: 'binary-ascii', maxLength: 30 })).map(([k, v]) => `${k}: ${v}`),
        ),
        { maxLength: 4 },
      ),
      body: fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 60 }), fc.constant('{"email":"a@b.co"}'), fc.constant('5\r\nhello\r\n0\r\n\r\n')),
    });
    await fc.assert(
      fc.asyncProperty(rawRequest, async (r) => {
        const payload = `${r.method} ${r.path} ${r.version}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n${r.headers.map((h) => `${h}\r\n`).join('')}\r\n${r.body}`;
        const before = rawFailures.length;
        const out = await rawExchange(Number(port), payload, REQUEST_TIMEOUT_MS);
        const repro = `printf %s ${JSON.stringify(payload)} | nc 127.0.0.1 ${port}`;
        if (out.timedOut) rawFailures.push({ kind: 'hang', detail: 'no answer and connection still open', repro });
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(out.data);
        if (m && Number(m[1]) >= 500) rawFailures.push({ kind: `status ${m[1]}`, detail: out.data.split('\r\n\r\n')[1]?.slice(0, 160) ?? '', repro });
        return rawFailures.length === before;
      }),
      { seed: SEED + 1, numRuns: RAW_RUNS },
    );
    expect(describeFailures(rawFailures)).toEqual([]);
  });

  it('still serves a normal signup afterwards (202 and the code by mail)', async () => {
    const client = new ApiClient(sys.apiUrl);
    const email = uniqueEmail('after-fuzz');
    const res = await client.post('/signup', { email });
    expect(res.status).toBe(202);
    expect(await waitForCode(email)).toMatch(/^\d{6}$/);
    const ready = await fetch(`${origin}/health/ready`);
    expect(ready.status).toBe(200);
  });
});

/** One line per kind of failure, with a count and a curl command that reproduces an example. */
function describeFailures(failures: Failure[]): string[] {
  const byKind = new Map<string, Failure[]>();
  for (const f of failures) {
    const key = `${f.kind} | ${f.detail.replace(/\d{2,}/g, 'N').slice(0, 80)}`;
    byKind.set(key, [...(byKind.get(key) ?? []), f]);
  }
  return [...byKind.entries()].map(([key, list]) => `${list.length}× ${key}\n    e.g. ${list[0].detail}\n    ${list[0].repro}`);
}

function rawExchange(port: number, payload: string, timeoutMs: number): Promise<{ data: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const s = new Socket();
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data, timedOut: true });
    }, timeoutMs);
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data, timedOut: false });
    });
    s.connect(port, '127.0.0.1', () => s.end(Buffer.from(payload, 'latin1')));
  });
}
