import { devKafkaPassword, kafkaUsername } from '../../common/kafka/identity';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createAccount } from '../../testkit/accounts';

import { ApiClient, fromNewSource } from '../../testkit/http';
import { startSystem, useSystem, type System } from '../../testkit/system';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** A request exactly as given: no body and no Content-Length unless the test sets them (fetch adds its own). */
function raw(url: string, method: string, headers: Record<string, string>, body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('HTTP hardening of the auth API', () => {
  let sys: System;
  useSystem({ env: { RATE_SIGNIN_FAIL_PER_EMAIL_IP: '1' } }, (started) => (sys = started));

  it('every auth answer, errors included, says Cache-Control: no-store and Pragma: no-cache', async () => {
    const acct = await createAccount(sys.apiUrl, 'nostore');
    const anon = fromNewSource(sys.apiUrl);
    const answers = {
      signin200: await anon.post('/signin', { email: acct.email, password: acct.password }),
      me200: await acct.client.get('/me'),
      me401: await new ApiClient(sys.apiUrl).get('/me'),
      signin401: await anon.post('/signin', { email: acct.email, password: 'wrong wrong' }),
      signin429: await anon.post('/signin', { email: acct.email, password: 'wrong wrong' }),
      malformed400: await anon.post('/signup', '{"email":'),
      mediaType415: await anon.post('/signup', 'email=x', { 'content-type': 'text/plain' }),
      origin403: await anon.post('/signup', { email: 'a@b.co' }, { origin: 'https://evil.example' }),
      notFound404: await anon.get('/nope'),
      signup202: await anon.post('/signup', { email: `nostore.${Date.now()}@test.example.com` }),
    };
    const seen = Object.fromEntries(Object.entries(answers).map(([k, r]) => [k, `${r.status} ${r.headers.get('cache-control')} ${r.headers.get('pragma')}`]));
    const expected = Object.fromEntries(Object.entries(answers).map(([k]) => [k, `${k.match(/\d{3}$/)![0]} no-store no-cache`]));
    expect(seen).toEqual(expected);
  });

  describe('POST /logout and /logout-all media types', () => {
    const url = () => `${sys.apiUrl}/logout`;
    const cases: [string, Record<string, string>, string | undefined][] = [
      ['no body, no content type', {}, undefined],
      ['no body, a JSON content type', { 'content-type': 'application/json' }, undefined],
      ['an empty body, application/json', { 'content-type': 'application/json', 'content-length': '0' }, ''],
      ['an empty body, text/plain', { 'content-type': 'text/plain', 'content-length': '0' }, ''],
      ['an empty body, a form type', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' }, ''],
      ['{}', { 'content-type': 'application/json' }, '{}'],
    ];

    it.each(cases)('/logout accepts %s: 204', async (_name, headers, body) => {
      expect((await raw(url(), 'POST', headers, body)).status).toBe(204);
    });

    it.each(cases)('/logout-all accepts %s: 204, and the sessions are gone', async (_name, headers, body) => {
      const acct = await createAccount(sys.apiUrl, 'logoutall');
      const r = await raw(`${sys.apiUrl}/logout-all`, 'POST', { ...headers, cookie: acct.client.cookie! }, body);
      expect(r.status).toBe(204);
      expect((await acct.client.get('/me')).status).toBe(401);
    });

    it.each([
      ['text/plain', 'x'],
      ['application/x-www-form-urlencoded', 'a=1'],
      ['multipart/form-data; boundary=b', '--b--'],
      ['application/xml', '<a/>'],
    ])('a non-empty %s body: 415 UNSUPPORTED_MEDIA_TYPE on both', async (type, body) => {
      for (const path of ['/logout', '/logout-all']) {
        const r = await raw(`${sys.apiUrl}${path}`, 'POST', { 'content-type': type }, body);
        expect({ path, status: r.status, code: r.body?.code }).toEqual({ path, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
      }
    });

    it('a non-empty body without a content type: 415', async () => {
      const r = await raw(url(), 'POST', { 'content-length': '2' }, '{}');
      expect({ status: r.status, code: r.body?.code }).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    });

    it('malformed JSON stays 400 MALFORMED_JSON; a JSON body with fields is 400 VALIDATION_FAILED', async () => {
      for (const path of ['/logout', '/logout-all']) {
        const bad = await raw(`${sys.apiUrl}${path}`, 'POST', { 'content-type': 'application/json' }, '{');
        expect({ path, status: bad.status, code: bad.body?.code }).toEqual({ path, status: 400, code: 'MALFORMED_JSON' });
      }
      const extra = await raw(url(), 'POST', { 'content-type': 'application/json' }, '{"a":1}');
      expect({ status: extra.status, code: extra.body?.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    });

    it('an endpoint that needs a body still refuses an empty one (400), never 2xx', async () => {
      const r = await raw(`${sys.apiUrl}/signup`, 'POST', { 'content-type': 'text/plain', 'content-length': '0' }, '');
      expect({ status: r.status, code: r.body?.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    });
  });
});

describe('cookies in production', () => {
  let sys: System;
  beforeAll(async () => {
    const strong = () => randomBytes(32).toString('base64');
    sys = await startSystem({
      env: {
        NODE_ENV: 'production', JWT_SECRET: strong(), HMAC_KEY: strong(), SEALING_KEY: strong(), TEMPORAL_PAYLOAD_KEYS: `prod-test:${strong()}`,
        KAFKA_REQUEST_MAC_KEYS: `k1:${strong()}`, KAFKA_REPLY_MAC_KEYS: `k1:${strong()}`, KAFKA_PAYLOAD_KEYS: `k1:${strong()}`,
        KAFKA_EVENT_SIGNING_KEYS: `k1:${randomBytes(32).toString('base64url')}`,
        // Production needs an explicit Kafka identity; the in-process API, worker and DB processor
        // share one here: the local broker's admin (a production deployment gives each its own).
        KAFKA_SASL_USERNAME: kafkaUsername('admin'), KAFKA_SASL_PASSWORD: devKafkaPassword('admin'),
      },
    });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('the session and device cookies are __Host- prefixed: Secure, Path=/, no Domain', async () => {
    const acct = await createAccount(sys.apiUrl, 'prod');
    const r = await fromNewSource(sys.apiUrl).post('/signin', { email: acct.email, password: acct.password });
    expect(r.status).toBe(200);
    const cookies = r.headers.getSetCookie();
    expect(cookies.map((c) => c.split('=')[0]).sort()).toEqual(['__Host-auth_device', '__Host-auth_token']);
    for (const c of cookies) {
      expect(c).toMatch(/; Secure/i);
      expect(c).toMatch(/; Path=\/(;|$)/);
      expect(c).toMatch(/; HttpOnly/i);
      expect(c).not.toMatch(/Domain=/i);
    }
    const token = cookies.find((c) => c.startsWith('__Host-auth_token='))!.split(';')[0];
    expect((await new ApiClient(sys.apiUrl).get('/me', { cookie: token })).status).toBe(200);
    // The unprefixed name means nothing in production: a cookie planted by a sibling subdomain is not read.
    expect((await new ApiClient(sys.apiUrl).get('/me', { cookie: token.replace('__Host-', '') })).status).toBe(401);
  });
});
