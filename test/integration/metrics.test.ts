import net from 'node:net';
import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { TOPICS } from '../../common/kafka/topics';
import { installQuietRuntime, uniqueEmail, uniqueIp } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { scrape, total, type Sample } from '../../testkit/metrics';
import { startSystem, type System } from '../../testkit/system';
import { startTcpProxy, type TcpProxy } from '../../testkit/tcp-proxy';
import { eventually } from '../../testkit/wait';
import { temporalMetricsOptions } from '../../workflows/worker';
import { rawKafka } from '../support/kafka';

const PASSWORD = 'a long and unusual passphrase';
const NAME = 'Metrics Tester';
const wrongCodeFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
const portOf = (url: string, def: number) => Number(new URL(url).port || def);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An IPv4 address, an IPv6 address (two or more hextet groups around colons), or an email. */
const IPV4 = /\b\d{1,3}(\.\d{1,3}){3}\b/;
const IPV6 = /(^|[^0-9a-z])[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}([^0-9a-z]|$)/i;
const personal = (value: string, secrets: string[]) =>
  value.includes('@') || IPV4.test(value) || IPV6.test(value) || secrets.some((s) => value.toLowerCase().includes(s.toLowerCase()));

describe('Prometheus metrics on every process (real stack)', () => {
  let sys: System;
  let api: ApiClient;
  let smtpProxy: TcpProxy;
  let sdkMetricsUrl: string;
  let endpoints: Record<'api' | 'worker' | 'dbProcessor', string>;
  const serverMetricsUrl = `http://127.0.0.1:${process.env.TEMPORAL_METRICS_PORT ?? 9466}/metrics`;

  beforeAll(async () => {
    // The Temporal SDK metrics are a property of the process's one Runtime: installed before the worker.
    const sdkPort = await freePort();
    installQuietRuntime(temporalMetricsOptions('127.0.0.1', sdkPort));
    sdkMetricsUrl = `http://127.0.0.1:${sdkPort}/metrics`;
    smtpProxy = await startTcpProxy(portOf(process.env.SMTP_URL ?? 'smtp://127.0.0.1:1025', 1025));
    sys = await startSystem({
      // Two SMTP attempts, then the signup ends mail_failed; three code requests per email per hour;
      // a signup nobody verifies expires after 20 s.
      env: { EMAIL_RETRY_MAX_ATTEMPTS: '2', RATE_SIGNUP_PER_EMAIL_HOUR: '3', SIGNUP_WINDOW_S: '20' },
      workerEnv: { SMTP_URL: `smtp://127.0.0.1:${smtpProxy.port}` },
    });
    api = new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() });
    endpoints = {
      api: sys.api.metricsUrl,
      worker: `http://127.0.0.1:${sys.worker!.healthPort}/metrics`,
      dbProcessor: `http://127.0.0.1:${sys.dbProcessor!.healthPort}/metrics`,
    };
  });
  afterAll(async () => {
    await sys?.close();
    await smtpProxy?.close();
  });

  it('the API serves /metrics on its metrics port only, never on the public API port', async () => {
    expect(new URL(sys.api.metricsUrl).port).not.toBe(String(sys.apiPort));
    expect(new URL(sys.api.metricsUrl).hostname).toBe('127.0.0.1');
    expect((await fetch(`http://127.0.0.1:${sys.apiPort}/metrics`)).status).toBe(404);
  });

  it('HTTP durations carry the route template, never the raw path: ids and unknown paths add no series', async () => {
    const anonymous = new ApiClient(sys.apiUrl);
    const id = `sid${Date.now().toString(36)}x${Math.random().toString(36).slice(2, 10)}`;
    expect((await anonymous.del(`/sessions/${id}`)).status).toBe(401);
    expect((await anonymous.get(`/no-such-${id}`)).status).toBe(404);
    const samples = await scrape(sys.api.metricsUrl);
    const routes = samples.filter((s) => s.name === 'cfd_http_request_duration_seconds_count');
    expect(total(routes, 'cfd_http_request_duration_seconds_count', { route: '/api/v1/auth/sessions/:id', method: 'DELETE', status: '401' })).toBe(1);
    expect(total(routes, 'cfd_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(samples.filter((s) => Object.values(s.labels).some((v) => v.includes(id)))).toEqual([]);
  });

  it('counters move for a failed mail, a signup, a wrong code, a verified signup, an expired signup, a sign-in, a logout, a rate limit and a dead letter; no label holds personal data', async () => {
    const before = {
      api: await scrape(endpoints.api),
      worker: await scrape(endpoints.worker),
      db: await scrape(endpoints.dbProcessor),
    };

    // A failed mail: SMTP refuses every connection until the signup's two attempts are spent.
    const unlucky = uniqueEmail('metrics-mailfail');
    smtpProxy.setMode('refuse');
    expect((await api.post('/signup', { email: unlucky })).status).toBe(202);
    const failed = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), unlucky));
    expect(await failed.result()).toMatchObject({ status: 'mail_failed' });
    smtpProxy.setMode('forward');

    // A signup, a wrong code, the right code, a sign-in, a logout.
    const email = uniqueEmail('metrics-happy');
    expect((await api.post('/signup', { email })).status).toBe(202);
    const code = await waitForCode(email);
    const wrong = await api.post('/verify', { email, otp: wrongCodeFor(code), password: PASSWORD, name: NAME });
    expect(wrong.body).toMatchObject({ code: 'INVALID_CODE' });
    expect((await api.post('/verify', { email, otp: code, password: PASSWORD, name: NAME })).status).toBe(201);
    expect((await api.post('/signin', { email, password: PASSWORD })).status).toBe(200);
    expect((await api.post('/logout')).status).toBe(204);

    // A rate limit: the fourth code request for one email within the hour. Nobody verifies this
    // signup: it expires.
    const busy = uniqueEmail('metrics-limited');
    for (let i = 0; i < 3; i++) await api.post('/resend', { email: busy });
    expect((await api.post('/resend', { email: busy })).status).toBe(429);

    // A dead letter: an unauthenticated request on the requests topic.
    const producer = rawKafka(sys.config, 'metrics-test').producer();
    await producer.connect();
    await producer.send({ topic: TOPICS.dbRequests, messages: [{ value: '{}' }] });
    await producer.disconnect();

    const delta = (before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);

    // API
    const apiAfter = await eventually(async () => {
      const s = await scrape(endpoints.api);
      // Visibility is eventually consistent, and the counts are cached for a few seconds.
      return delta(before.api, s, 'cfd_signup_workflows', { state: 'closed', status: 'mail_failed' }) >= 1 &&
        delta(before.api, s, 'cfd_signup_workflows', { state: 'closed', status: 'completed' }) >= 1 &&
        delta(before.api, s, 'cfd_signup_workflows', { state: 'closed', status: 'expired' }) >= 1
        ? s
        : undefined;
    }, 60_000, 'the signup workflow counts to show the mail_failed, completed and expired signups');
    expect(delta(before.api, apiAfter, 'cfd_signup_requests_total', { kind: 'signup' })).toBe(2);
    expect(delta(before.api, apiAfter, 'cfd_signup_requests_total', { kind: 'resend' })).toBe(3);
    expect(delta(before.api, apiAfter, 'cfd_code_checks_total', { flow: 'signup', result: 'INVALID_CODE' })).toBe(1);
    expect(delta(before.api, apiAfter, 'cfd_code_checks_total', { flow: 'signup', result: 'accepted' })).toBe(1);
    expect(delta(before.api, apiAfter, 'cfd_signups_verified_total')).toBe(1);
    expect(delta(before.api, apiAfter, 'cfd_sessions_created_total')).toBe(2);
    expect(delta(before.api, apiAfter, 'cfd_sessions_revoked_total')).toBe(1);
    expect(delta(before.api, apiAfter, 'cfd_rate_limit_rejections_total', { limiter: 'code' })).toBe(1);
    expect(delta(before.api, apiAfter, 'cfd_bcrypt_duration_seconds_count', { op: 'hash' })).toBe(2);
    expect(delta(before.api, apiAfter, 'cfd_bcrypt_duration_seconds_count', { op: 'compare' })).toBe(1);
    expect(delta(before.api, apiAfter, 'cfd_kafka_request_duration_seconds_count', { type: 'user.find', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    const http = (route: string, method: string, status: string) => delta(before.api, apiAfter, 'cfd_http_request_duration_seconds_count', { route, method, status });
    expect(http('/api/v1/auth/signup', 'POST', '202')).toBe(2);
    expect(http('/api/v1/auth/verify', 'POST', '400')).toBe(1);
    expect(http('/api/v1/auth/verify', 'POST', '201')).toBe(1);
    expect(http('/api/v1/auth/resend', 'POST', '429')).toBe(1);
    // Routes are templates: no label is a raw path with an id in it.
    expect(apiAfter.filter((s) => s.name === 'cfd_http_request_duration_seconds_count').map((s) => s.labels.route)).toContain('/api/v1/auth/signup');

    // Worker
    // The third signup's workflow runs on after its request was answered.
    const workerAfter = await eventually(async () => {
      const s = await scrape(endpoints.worker);
      return delta(before.worker, s, 'cfd_signups_started_total', { account: 'new' }) >= 3 &&
        delta(before.worker, s, 'cfd_mail_send_attempts_total', { mail: 'code_signup', result: 'sent' }) >= 2
        ? s
        : undefined;
    }, 30_000, 'the worker to check and mail the third signup');
    expect(delta(before.worker, workerAfter, 'cfd_signups_started_total', { account: 'new' })).toBe(3);
    expect(delta(before.worker, workerAfter, 'cfd_mail_send_attempts_total', { mail: 'code_signup', result: 'smtp_unavailable' })).toBe(2);
    expect(delta(before.worker, workerAfter, 'cfd_mail_send_attempts_total', { mail: 'code_signup', result: 'sent' })).toBe(2);
    expect(delta(before.worker, workerAfter, 'cfd_mail_send_duration_seconds_count', { mail: 'code_signup', result: 'smtp_unavailable' })).toBe(2);
    expect(delta(before.worker, workerAfter, 'cfd_kafka_request_duration_seconds_count', { type: 'user.exists', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(delta(before.worker, workerAfter, 'cfd_kafka_request_duration_seconds_count', { type: 'user.create', outcome: 'ok' })).toBe(1);

    // DB processor
    const dbAfter = await eventually(async () => {
      const s = await scrape(endpoints.dbProcessor);
      return delta(before.db, s, 'cfd_kafka_dead_letters_total') >= 1 ? s : undefined;
    }, 20_000, 'the dead letter to be counted');
    expect(delta(before.db, dbAfter, 'cfd_kafka_dead_letters_total')).toBe(1);
    expect(delta(before.db, dbAfter, 'cfd_db_request_duration_seconds_count', { type: 'user.create', outcome: 'ok' })).toBe(1);
    expect(delta(before.db, dbAfter, 'cfd_db_request_duration_seconds_count', { type: 'user.exists', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(dbAfter.filter((s) => s.name === 'cfd_kafka_consumer_lag_messages')).toEqual([
      { name: 'cfd_kafka_consumer_lag_messages', labels: { group: 'auth-db-processor', topic: TOPICS.dbRequests }, value: expect.any(Number) },
      { name: 'cfd_kafka_consumer_lag_messages', labels: { group: 'auth-db-audit', topic: TOPICS.dbAudit }, value: expect.any(Number) },
    ]);
    // The verified signup's events (user.registered, session.created) went out through the outbox relay.
    const dbEvents = await eventually(async () => {
      const s = await scrape(endpoints.dbProcessor);
      return delta(before.db, s, 'cfd_auth_events_published_total') >= 2 ? s : undefined;
    }, 20_000, 'the auth events to be counted');
    expect(dbEvents.filter((s) => s.name.startsWith('cfd_auth_events_outbox_')).map((s) => ({ name: s.name, value: typeof s.value }))).toEqual([
      { name: 'cfd_auth_events_outbox_unsent', value: 'number' },
      { name: 'cfd_auth_events_outbox_oldest_unsent_seconds', value: 'number' },
    ]);

    // The Temporal SDK's worker metrics and the Temporal server's.
    const sdk = await scrape(sdkMetricsUrl);
    const onQueue = { task_queue: sys.taskQueue };
    expect(total(sdk, 'temporal_activity_execution_failed_total', { ...onQueue, activity_type: 'sendCodeEmail' })).toBe(2);
    expect(total(sdk, 'temporal_workflow_completed_total', { ...onQueue, workflow_type: 'signupWorkflow' })).toBeGreaterThanOrEqual(2);
    expect(total(sdk, 'temporal_workflow_task_schedule_to_start_latency_count', onQueue)).toBeGreaterThanOrEqual(1);
    const server = await scrape(serverMetricsUrl);
    expect(server.some((s) => s.name === 'service_requests')).toBe(true);

    // No email, name, IP address or user id in any label of our processes or the SDK's.
    const userId = (await api.post('/signin', { email, password: PASSWORD })).body.user.id as string;
    const secrets = [email, unlucky, busy, NAME, userId];
    for (const [where, samples] of Object.entries({ api: apiAfter, worker: workerAfter, db: dbAfter, sdk })) {
      const leaks = samples.flatMap((s) => Object.entries(s.labels).filter(([, v]) => personal(v, secrets)).map(([k, v]) => `${where} ${s.name}{${k}="${v}"}`));
      expect(leaks).toEqual([]);
    }
  });
});
