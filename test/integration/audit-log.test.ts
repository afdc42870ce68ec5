import { Writable } from 'node:stream';
import { createLogger } from '../../common/logger';
import { installRuntimeLogger } from '../../workflows/worker';
import { installRuntimeOnce, uniqueEmail, uniqueIp } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';

/** Every JSON line a pino logger writes, parsed. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { lines, raw, stream };
}

const EMAIL_HASH = /^[0-9a-f]{32}$/;

/**
 * The audit log (README "Sessions and security"): each auth event of the API is one JSON line with
 * the request id, the IP and the user id or the keyed hash of the email; the worker's `code_sent`
 * names the signup by its workflow id (the keyed hash of the email) and the code's number. No line
 * of the API or the worker holds the email, the name, the password, the code or a token.
 */
describe('audit log', () => {
  const api = capture();
  const worker = capture();
  let sys: System;
  beforeAll(async () => {
    // The worker's activities log through Temporal's runtime, wired to pino as the worker process does.
    installRuntimeOnce(() => installRuntimeLogger(createLogger('worker', 'info', worker.stream)));
    sys = await startSystem({
      logger: createLogger('api', 'info', api.stream),
      env: { RATE_SIGNIN_FAIL_PER_EMAIL_IP: '2', RATE_SIGNUP_PER_EMAIL_HOUR: '3' },
    });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('each listed event is one line with the fields the README names, and no line holds a secret', async () => {
    const email = uniqueEmail('audit');
    const name = 'Audit Person Zebulon';
    const password = 'an audit passphrase 42';
    const wrongPassword = 'not the audit passphrase';
    const ip = uniqueIp();
    const from = (addr = ip) => new ApiClient(sys.apiUrl, { 'x-forwarded-for': addr });
    const a = from();

    expect((await a.post('/signup', { email })).status).toBe(202);
    const code = await waitForCode(email);
    expect((await a.post('/resend', { email })).status).toBe(202);
    const wrongCode = code === '000000' ? '111111' : '000000';
    expect((await a.post('/verify', { email, otp: wrongCode, password, name })).status).toBe(400);
    const verified = await a.post('/verify', { email, otp: code, password, name });
    expect(verified.status).toBe(201);
    const userId = verified.body.user.id as string;

    const attacker = from(uniqueIp());
    expect((await attacker.post('/signin', { email, password: wrongPassword })).status).toBe(401);
    const b = from(uniqueIp());
    expect((await b.post('/signin', { email, password })).status).toBe(200);
    const c = from(uniqueIp());
    expect((await c.post('/signin', { email, password })).status).toBe(200);
    expect((await c.post('/logout')).status).toBe(204);
    const sessions = await a.get('/sessions');
    const bSession = (sessions.body.sessions as { id: string; current: boolean }[]).find((s) => !s.current)!;
    expect((await a.call('DELETE', `/sessions/${bSession.id}`)).status).toBe(204);
    expect((await a.post('/logout-all')).status).toBe(204);
    // Limits refused: a code request (by email) and a sign-in (by email and source).
    expect((await from(uniqueIp()).post('/resend', { email })).status).toBe(202);
    expect((await from(uniqueIp()).post('/resend', { email })).status).toBe(429);
    expect((await attacker.post('/signin', { email, password: wrongPassword })).status).toBe(401);
    expect((await attacker.post('/signin', { email, password: wrongPassword })).status).toBe(429);

    // The session and device tokens the answers set (cookie values).
    const tokens = verified.headers.getSetCookie().map((cookie) => cookie.split(';')[0].split('=')[1]).filter((t) => t.length > 10);
    expect(tokens.length).toBe(2);
    const secrets: [string, string][] = [['email', email], ['name', name], ['password', password], ['wrong password', wrongPassword], ['code', code], ['wrong code', wrongCode], ...tokens.map((t, i) => [`token ${i}`, t] as [string, string])];

    const events = (name: string) => api.lines.filter((l) => l.event === name);
    const emailHash = events('signup_requested')[0]?.emailHash as string;
    expect(emailHash).toMatch(EMAIL_HASH);
    const expected: [string, Record<string, unknown>][] = [
      ['signup_requested', { emailHash }],
      ['resend_requested', { emailHash }],
      ['verify_failed', { emailHash }],
      ['verified', { emailHash, userId }],
      ['signin_failed', { emailHash }],
      ['signin_succeeded', { userId }],
      ['logout', { userId }],
      ['session_revoked', { userId }],
      ['logout_all', { userId }],
      ['rate_limited', { emailHash }],
    ];
    for (const [event, who] of expected) {
      const found = events(event);
      expect({ event, lines: found.length > 0 }).toEqual({ event, lines: true });
      for (const line of found) {
        expect({ event, requestId: typeof line.requestId, ip: typeof line.ip }).toEqual({ event, requestId: 'string', ip: 'string' });
        expect(line).toMatchObject(who);
      }
    }
    // One rate_limited line per refusal, each naming its scope.
    expect(events('rate_limited').map((l) => l.scope).sort()).toEqual(['code', 'signin']);

    // The worker's code_sent: the signup's workflow id carries the keyed hash, no request id (no request).
    const codeSent = worker.lines.filter((l) => l.event === 'code_sent' && l.signupId === `signup-${emailHash}`);
    expect(codeSent.map((l) => l.seq)).toEqual(expect.arrayContaining([1]));

    for (const [label, log] of [['api', api.raw], ['worker', worker.raw]] as const) {
      const leaks = log.flatMap((line) => secrets.filter(([, v]) => line.includes(v)).map(([k]) => `${label}: ${k} in ${line.slice(0, 300)}`));
      expect(leaks).toEqual([]);
    }
  });
});
