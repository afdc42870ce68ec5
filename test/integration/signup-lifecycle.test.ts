import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { stateQuery } from '../../workflows/signup.contract';
import { uniqueEmail } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';
import { ApiClient } from '../../testkit/http';
import { mailsTo, waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';
import { startTcpProxy, type TcpProxy } from '../../testkit/tcp-proxy';

const PASSWORD = 'a long and unusual passphrase';
const wrongCodeFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
const portOf = (url: string, def: number) => Number(new URL(url).port || def);

describe('signup workflow lifecycle on the real stack', () => {
  let sys: System;
  let api: ApiClient;
  let redisProxy: TcpProxy;
  let smtpProxy: TcpProxy;
  beforeAll(async () => {
    redisProxy = await startTcpProxy(portOf(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 6379));
    smtpProxy = await startTcpProxy(portOf(process.env.SMTP_URL ?? 'smtp://127.0.0.1:1025', 1025));
    // Only the worker reaches Redis and SMTP through the proxies: the API keeps its own Redis.
    sys = await startSystem({
      workerEnv: { REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`, SMTP_URL: `smtp://127.0.0.1:${smtpProxy.port}` },
    });
    api = new ApiClient(sys.apiUrl);
  });
  afterAll(async () => {
    await sys?.close();
    await redisProxy?.close();
    await smtpProxy?.close();
  });

  it('Redis failing inside the verify handler answers 503 UNAVAILABLE with Retry-After, and the attempt does not count', async () => {
    const email = uniqueEmail('redis-down');
    await api.post('/signup', { email });
    const code = await waitForCode(email);
    expect((await api.post('/verify', { email, otp: wrongCodeFor(code), password: PASSWORD, name: 'R' })).body).toMatchObject({ attemptsLeft: 4 });

    redisProxy.setMode('refuse');
    const during = await api.post('/verify', { email, otp: wrongCodeFor(code), password: PASSWORD, name: 'R' });
    redisProxy.setMode('forward');
    expect(during.status).toBe(503);
    expect(during.body).toEqual({ code: 'UNAVAILABLE', message: expect.any(String) });
    expect(during.headers.get('retry-after')).toBe('5');

    const after = await eventually(async () => {
      const r = await api.post('/verify', { email, otp: wrongCodeFor(code), password: PASSWORD, name: 'R' });
      return r.status === 503 ? undefined : r;
    }, 20_000, 'the worker reaching Redis again');
    expect(after.body).toMatchObject({ code: 'INVALID_CODE', attemptsLeft: 3 });
    expect((await api.post('/verify', { email, otp: code, password: PASSWORD, name: 'R' })).status).toBe(201);
  });

  it('a worker stopped while it sends lets the send finish: the code goes out once and still verifies', async () => {
    const email = uniqueEmail('graceful');
    const before = smtpProxy.accepted;
    smtpProxy.setMode('hold');
    await api.post('/signup', { email });
    await eventually(async () => (smtpProxy.accepted > before ? true : undefined), 20_000, 'the send to start');
    const stopping = sys.stopWorker();
    await sleep(300);
    smtpProxy.setMode('forward');
    await stopping;
    const code = await waitForCode(email);
    await sys.startWorker();
    expect((await api.post('/verify', { email, otp: code, password: PASSWORD, name: 'G' })).status).toBe(201);
    const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
    await handle.result();
    expect(await mailsTo(email)).toHaveLength(1);
    // The send finished inside the stopping worker: its first attempt completed, nothing was
    // cancelled and retried (a process exiting mid-send is how SMTP accepts a copy twice).
    const history = await handle.fetchHistory();
    const sendIds = new Set(
      history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendCodeEmail').map((e) => String(e.eventId)),
    );
    const attempts = history.events!.filter((e) => sendIds.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId))).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts).toEqual([1]);
  });

  it('a burst of 100 signups: every address gets exactly one code', async () => {
    const emails = Array.from({ length: 100 }, (_, i) => uniqueEmail(`burst${i}`));
    const answers = await Promise.all(emails.map((email) => api.post('/signup', { email })));
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    const keys = deriveKeys(sys.config);
    await eventually(async () => {
      const states = await Promise.all(emails.map((e) => sys.temporal.workflow.getHandle(signupWorkflowId(keys, e)).query(stateQuery)));
      return states.every((s) => s.status === 'awaiting_code') ? true : undefined;
    }, 90_000, 'every code delivered');
    const counts = await Promise.all(emails.map(async (e) => (await mailsTo(e)).length));
    expect(counts.filter((n) => n !== 1)).toEqual([]);
  });
});
