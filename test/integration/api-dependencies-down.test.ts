import { createAccount } from '../../testkit/accounts';
import { eventually } from '../../testkit/wait';
import { fromNewSource } from '../../testkit/http';
import { startSystem, useSystem, type System } from '../../testkit/system';
import { startTcpProxy, type TcpProxy } from '../../testkit/tcp-proxy';

const portOf = (url: string, def: number) => Number(new URL(url).port || def);

/** The API's own Redis (sessions, rate limits) taken away behind a proxy; the rest of the stack stays. */
describe('the API answers 503 UNAVAILABLE, never 500, when its Redis is down', () => {
  let sys: System;
  let redisProxy: TcpProxy;
  beforeAll(async () => {
    redisProxy = await startTcpProxy(portOf(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 6379));
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    sys = await startSystem({ env: { REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` }, workerEnv: { REDIS_URL: redisUrl } });
  });
  afterAll(async () => {
    await sys?.close();
    await redisProxy?.close();
  });
  afterEach(async () => {
    redisProxy.setMode('forward');
    // ioredis reconnects with a back-off: the next test starts once the API reaches Redis again.
    await eventually(async () => ((await fetch(new URL('/health/ready', sys.apiUrl))).ok ? true : undefined), 20_000, 'the API reaching Redis again');
  });

  it('GET /me with a session cookie (session store) answers 503 with Retry-After, then 200 once Redis is back', async () => {
    const acct = await createAccount(sys.apiUrl, 'redis-down-me');
    redisProxy.setMode('refuse');
    const during = await acct.client.get('/me');
    expect(during.status).toBe(503);
    expect(during.body).toEqual({ code: 'UNAVAILABLE', message: expect.any(String) });
    expect(during.headers.get('retry-after')).toBe('5');
    redisProxy.setMode('forward');
    const after = await eventually(async () => {
      const r = await acct.client.get('/me');
      return r.status === 503 ? undefined : r;
    }, 20_000, 'the API reaching Redis again');
    expect(after.status).toBe(200);
  });

  it('POST /logout-all (session index) answers 503 while Redis is down', async () => {
    const acct = await createAccount(sys.apiUrl, 'redis-down-all');
    redisProxy.setMode('refuse');
    const during = await acct.client.post('/logout-all', {});
    expect(during.status).toBe(503);
    expect(during.body.code).toBe('UNAVAILABLE');
  });

  it('POST /signin (rate limits) answers 503 while Redis is down', async () => {
    const acct = await createAccount(sys.apiUrl, 'redis-down-signin');
    redisProxy.setMode('refuse');
    const during = await fromNewSource(sys.apiUrl).post('/signin', { email: acct.email, password: acct.password });
    expect(during.status).toBe(503);
    expect(during.body.code).toBe('UNAVAILABLE');
  });
});

/** Sign-in asks the DB processor over Kafka: no answer within KAFKA_REQUEST_TIMEOUT_MS is a 503. */
describe('the API answers 503 UNAVAILABLE when its Kafka request gets no answer', () => {
  let sys: System;
  useSystem({ env: { KAFKA_REQUEST_TIMEOUT_MS: '2000' } }, (started) => (sys = started));

  it('POST /signin with the DB processor stopped answers 503 with Retry-After, and signs in once it is back', async () => {
    const acct = await createAccount(sys.apiUrl, 'kafka-no-answer');
    await sys.stopDbProcessor();
    const client = fromNewSource(sys.apiUrl);
    try {
      const during = await client.post('/signin', { email: acct.email, password: acct.password });
      expect(during.status).toBe(503);
      expect(during.body).toEqual({ code: 'UNAVAILABLE', message: expect.any(String) });
      expect(during.headers.get('retry-after')).toBe('5');
    } finally {
      await sys.startDbProcessor();
    }
    const after = await eventually(async () => {
      const r = await client.post('/signin', { email: acct.email, password: acct.password });
      return r.status === 503 ? undefined : r;
    }, 30_000, 'the DB processor answering again');
    expect(after.status).toBe(200);
  });
});
