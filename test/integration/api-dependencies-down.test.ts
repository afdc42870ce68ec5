import { createAccount, pendingSignup } from '../../testkit/accounts';
import { testConfig } from '../../testkit/env';
import { startKafkaProxy } from '../../testkit/kafka-proxy';
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

/**
 * The API's own Kafka taken away (a proxy that refuses every connection, existing ones cut); the
 * worker and the DB processor keep theirs. The calls that ask the DB processor (sign-in, and the
 * current-password check of password change, email change and closure) answer 503 with
 * Retry-After within KAFKA_REQUEST_TIMEOUT_MS, never a 500 and never a hang (the client gives up
 * after 30 s); `/me` needs no Kafka and keeps answering; once Kafka is back, the same API process
 * serves those calls again.
 */
describe('the API answers 503 UNAVAILABLE, never 500, when its Kafka is down, and recovers in the same process', () => {
  let sys: System;
  let kafkaProxy: TcpProxy;
  beforeAll(async () => {
    const broker = testConfig().KAFKA_BROKERS[0];
    kafkaProxy = await startKafkaProxy(broker);
    sys = await startSystem({ env: { KAFKA_BROKERS: `127.0.0.1:${kafkaProxy.port}` }, workerEnv: { KAFKA_BROKERS: broker }, dbProcessorEnv: { KAFKA_BROKERS: broker } });
  });
  afterAll(async () => {
    kafkaProxy?.setMode('forward');
    await sys?.close();
    await kafkaProxy?.close();
  });

  it('sign-in and the current-password checks answer 503 with Retry-After while Kafka is down; /me still answers; all work again once it is back', async () => {
    const acct = await createAccount(sys.apiUrl, 'kafka-down');
    const newPassword = 'another sturdy passphrase';
    const signin = () => fromNewSource(sys.apiUrl).post('/signin', { email: acct.email, password: acct.password });
    const needKafka = {
      'POST /signin': signin,
      'POST /password/change': () => acct.client.post('/password/change', { currentPassword: acct.password, newPassword }),
      'POST /email/change': () => acct.client.post('/email/change', { newEmail: `moved-${acct.email}`, password: acct.password }),
      'DELETE /me': () => acct.client.call('DELETE', '/me', { password: acct.password }),
    };
    // The API reached Kafka through the proxy (and not the broker's own address).
    expect(kafkaProxy.accepted).toBeGreaterThan(0);
    kafkaProxy.setMode('refuse');

    const during: Record<string, unknown> = {};
    for (const [name, call] of Object.entries(needKafka)) {
      const r = await call();
      during[name] = { status: r.status, body: r.body, retryAfter: r.headers.get('retry-after') };
    }
    const unavailable = { status: 503, body: { code: 'UNAVAILABLE', message: expect.any(String) }, retryAfter: '5' };
    expect(during).toEqual(Object.fromEntries(Object.keys(needKafka).map((name) => [name, unavailable])));
    // Sessions live in Redis: reading one needs no Kafka.
    expect((await acct.client.get('/me')).status).toBe(200);

    kafkaProxy.setMode('forward');
    const after = await eventually(async () => {
      const r = await signin();
      return r.status === 503 ? undefined : r;
    }, 60_000, 'the API reaching Kafka again');
    expect(after.status).toBe(200);
    const changed = await acct.client.post('/password/change', { currentPassword: acct.password, newPassword });
    expect(changed.status).toBe(204);
  });
});

/**
 * Verify reaches Kafka through Temporal: the workflow's activity asks the DB processor to create
 * the user. With the worker's Kafka down, verify answers 503 within its bound (VERIFY_TIMEOUT_MS)
 * instead of hanging, the code stays good, and once Kafka is back the account is created exactly
 * once and signs in.
 */
describe('verify answers 503 UNAVAILABLE while the worker cannot reach Kafka, and completes once it can', () => {
  let sys: System;
  let kafkaProxy: TcpProxy;
  beforeAll(async () => {
    const broker = testConfig().KAFKA_BROKERS[0];
    kafkaProxy = await startKafkaProxy(broker);
    sys = await startSystem({ workerEnv: { KAFKA_BROKERS: `127.0.0.1:${kafkaProxy.port}` } });
  });
  afterAll(async () => {
    kafkaProxy?.setMode('forward');
    await sys?.close();
    await kafkaProxy?.close();
  });

  it('POST /verify with the worker cut off from Kafka: 503 with Retry-After, then the same code verifies (or the account it created signs in)', async () => {
    const client = fromNewSource(sys.apiUrl);
    const { email, otp } = await pendingSignup(client, 'kafka-down-verify');
    const password = 'a sturdy test passphrase';
    kafkaProxy.setMode('refuse');
    const during = await client.post('/verify', { email, otp, password, name: 'Kafka Down' });
    expect({ status: during.status, body: during.body, retryAfter: during.headers.get('retry-after') }).toEqual({ status: 503, body: { code: 'UNAVAILABLE', message: expect.any(String) }, retryAfter: '5' });

    kafkaProxy.setMode('forward');
    const after = await eventually(async () => {
      const r = await client.post('/verify', { email, otp, password, name: 'Kafka Down' });
      return r.status === 503 ? undefined : r;
    }, 90_000, 'the worker reaching Kafka again');
    // The update that timed out may have created the account in the meantime: then a retry is told so.
    expect(after.status === 201 || (after.status === 409 && after.body.code === 'ALREADY_VERIFIED')).toBe(true);
    const signin = await fromNewSource(sys.apiUrl).post('/signin', { email, password });
    expect(signin.status).toBe(200);
  });
});
