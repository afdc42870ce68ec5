/**
 * One trace follows a signup: the HTTP request in the API, the workflow start, the workflow run and
 * its activities in the worker (the mail activity among them), the Kafka request, the DB
 * processor's handling with its SQL, and the reply back in the worker. And one trace follows the
 * verify that creates the user (the DB write). No attribute holds an email, name, code, password
 * or session token.
 *
 * The three processes run as real OS processes with tracing on (as `npm start` runs them): OTel's
 * instrumentations patch modules through Node's require hooks, which jest's module registry
 * bypasses, so in-process instances would show only part of the picture. They export over OTLP to
 * a receiver in this test's memory (testkit/otlp-sink.ts).
 */
import { randomBytes } from 'node:crypto';
import { TEST_RATE_LIMITS } from '../../testkit/env';
import path from 'node:path';
import { TOPICS } from '../../common/kafka/topics';
import { uniqueEmail } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { OtlpSink, type ReceivedSpan } from '../../testkit/otlp-sink';
import { freePort, REPO_ROOT, tsxProcess, type SupervisedProcess } from '../../testkit/supervisor';
import { eventually } from '../../testkit/wait';

const SERVER = 2;
const API = 'cfd-auth-api';
const WORKER = 'cfd-auth-worker';
const DB = 'cfd-auth-db-processor';

describe('traces: one trace id from the HTTP request through Temporal and Kafka to the database', () => {
  let sink: OtlpSink;
  const procs: SupervisedProcess[] = [];
  let api: ApiClient;
  let edgePort: number;

  beforeAll(async () => {
    sink = await OtlpSink.start();
    const queue = `traces-${randomBytes(4).toString('hex')}`;
    const [apiPort, workerPort, dbPort] = await Promise.all([freePort(), freePort(), freePort()]);
    edgePort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      TEMPORAL_TASK_QUEUE: queue,
      API_PORT: String(apiPort),
      WORKER_HEALTH_PORT: String(workerPort),
      DB_PROCESSOR_HEALTH_PORT: String(dbPort),
      API_METRICS_PORT: '0',
      WORKER_TEMPORAL_METRICS_PORT: '0',
      ...TEST_RATE_LIMITS,
      BCRYPT_COST: '10',
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      // Every request: the production default keeps 5 % of them.
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      // As behind a gateway that starts the traces: the unsampled-caller case below needs it.
      TRACE_INCOMING_CONTEXT: 'follow',
    };
    const logs = path.join(REPO_ROOT, '.data', 'test', 'traces');
    procs.push(
      tsxProcess('db-processor', 'db-processor/main.ts', env, path.join(logs, `${queue}.db-processor.log`), { healthUrl: `http://127.0.0.1:${dbPort}/health/ready` }),
      tsxProcess('worker', 'workflows/worker.ts', env, path.join(logs, `${queue}.worker.log`), { healthUrl: `http://127.0.0.1:${workerPort}/health/ready` }),
      tsxProcess('api', 'api/main.ts', env, path.join(logs, `${queue}.api.log`), { healthUrl: `http://127.0.0.1:${apiPort}/health/ready` }),
      // A second API as deployed by default, facing callers it does not trust with its traces.
      tsxProcess('edge-api', 'api/main.ts', { ...env, API_PORT: String(edgePort), TRACE_INCOMING_CONTEXT: undefined }, path.join(logs, `${queue}.edge-api.log`), { healthUrl: `http://127.0.0.1:${edgePort}/health/ready` }),
    );
    for (const p of procs) p.start();
    await Promise.all(procs.map((p) => p.waitReady(240_000)));
    api = new ApiClient(`http://127.0.0.1:${apiPort}/api/v1/auth`);
  }, 300_000);

  afterAll(async () => {
    // SIGTERM: each process flushes its spans on the way out.
    await Promise.all(procs.map((p) => p.stop(15_000)));
    await sink?.close();
  });

  const serverSpan = (target: string) => sink.spans.find((s) => s.service === API && s.kind === SERVER && s.attributes['http.target'] === target);
  const has = (spans: ReceivedSpan[], service: string, name: string | RegExp) =>
    spans.some((s) => s.service === service && (typeof name === 'string' ? s.name === name : name.test(s.name)));
  const missing = (spans: ReceivedSpan[], wanted: [string, string | RegExp][]) => wanted.filter(([svc, name]) => !has(spans, svc, name)).map(([svc, name]) => `${svc} ${String(name)}`);

  it('a signup and its verify each make one trace across API, workflow, activities, Kafka and the DB processor; no personal data in any attribute', async () => {
    const email = uniqueEmail('trace');
    const name = 'Tracy Tracer';
    const password = 'a sturdy trace passphrase';
    expect((await api.post('/signup', { email })).status).toBe(202);
    const otp = await waitForCode(email, 1, 60_000);
    const verified = await api.post('/verify', { email, otp, password, name });
    expect(verified.status).toBe(201);
    // A client that puts personal data in a query string: the span keeps the path only.
    await api.call('GET', `/me?email=${encodeURIComponent(email)}&code=${otp}`);

    const signupWanted: [string, string | RegExp][] = [
      [API, 'POST /api/v1/auth/signup'],
      [API, 'SignalWithStartWorkflow:signupWorkflow'],
      [WORKER, 'RunWorkflow:signupWorkflow'],
      [WORKER, 'RunActivity:isEmailRegistered'],
      [WORKER, 'RunActivity:sendCodeEmail'],
      [WORKER, 'kafka request user.exists'],
      [DB, `${TOPICS.dbRequests} handle`],
      [DB, /^pg\.query/],
      [WORKER, `${TOPICS.dbReplies} receive`],
    ];
    const signupTrace = await eventually(async () => {
      const root = serverSpan('/api/v1/auth/signup');
      const spans = root ? sink.inTrace(root.traceId) : [];
      return root && missing(spans, signupWanted).length === 0 ? spans : undefined;
    }, 60_000, 'the signup trace').catch(() => {
      const root = serverSpan('/api/v1/auth/signup');
      const spans = root ? sink.inTrace(root.traceId) : [];
      throw new Error(`signup trace ${root?.traceId ?? '(no API span)'} lacks: ${missing(spans, signupWanted).join(', ')}\nit has: ${spans.map((s) => `${s.service} ${s.name}`).join('; ')}`);
    });
    // The DB processor's SQL hangs under its handling span, which hangs under the worker's request.
    // (The trace holds other handling spans too: the API's audit.record request of the same signup.)
    const request = signupTrace.find((s) => s.service === WORKER && s.name === 'kafka request user.exists')!;
    const handle = signupTrace.find((s) => s.service === DB && s.name === `${TOPICS.dbRequests} handle` && s.parentSpanId === request.spanId);
    expect(handle).toBeDefined();
    for (const h of signupTrace.filter((s) => s.service === DB && s.name === `${TOPICS.dbRequests} handle`)) {
      expect(signupTrace.find((s) => s.spanId === h.parentSpanId)?.name).toMatch(/^kafka request /);
    }
    // The workflow id (`npm run signup -- find`) finds the trace too: tag temporalWorkflowId.
    expect(signupTrace.filter((s) => s.name === 'SignalWithStartWorkflow:signupWorkflow').map((s) => typeof s.attributes.temporalWorkflowId)).toEqual(['string']);
    expect(signupTrace.some((s) => s.service === DB && /^pg\.query/.test(s.name) && s.parentSpanId === handle!.spanId)).toBe(true);

    const verifyWanted: [string, string | RegExp][] = [
      [API, 'POST /api/v1/auth/verify'],
      [WORKER, 'RunActivity:createUser'],
      [WORKER, 'kafka request user.create'],
      [DB, `${TOPICS.dbRequests} handle`],
      [DB, /^pg\.query/],
    ];
    const verifyTrace = await eventually(async () => {
      const root = serverSpan('/api/v1/auth/verify');
      const spans = root ? sink.inTrace(root.traceId) : [];
      return root && missing(spans, verifyWanted).length === 0 ? spans : undefined;
    }, 60_000, 'the verify trace').catch(() => {
      const root = serverSpan('/api/v1/auth/verify');
      const spans = root ? sink.inTrace(root.traceId) : [];
      throw new Error(`verify trace ${root?.traceId ?? '(no API span)'} lacks: ${missing(spans, verifyWanted).join(', ')}\nit has: ${spans.map((s) => `${s.service} ${s.name}`).join('; ')}`);
    });
    expect(verifyTrace.some((s) => s.service === DB && /insert into "users"/i.test(String(s.attributes['db.statement'] ?? '')))).toBe(true);
    // The request id a client or a log line gives leads to the trace (a Jaeger tag search).
    const verifyRoot = serverSpan('/api/v1/auth/verify')!;
    expect(verifyRoot.attributes['cfd.request_id']).toBe(verified.headers.get('x-request-id'));
    // The request as this server received it: plain HTTP on its port, the path without the query.
    expect(verifyRoot.attributes).toMatchObject({ 'http.method': 'POST', 'http.scheme': 'http', 'http.target': '/api/v1/auth/verify', 'http.status_code': 201 });

    // Nothing exported (span attributes, resources) holds the email, its local part, the name, the
    // code, the password or the session token.
    const token = /auth_token=([^;]+)/.exec(verified.headers.get('set-cookie') ?? '')?.[1];
    expect(token).toBeTruthy();
    await eventually(async () => sink.spans.find((s) => s.service === API && s.kind === SERVER && String(s.attributes['http.target']).startsWith('/api/v1/auth/me')), 30_000, 'the /me span');
    const exported = sink.raw.join('\n');
    const where = (secret: string) => sink.spans.filter((s) => JSON.stringify(s).includes(secret)).map((s) => `${s.service} ${s.name} ${JSON.stringify(s.attributes)}`);
    for (const secret of [email, email.split('@')[0], name, otp, password, token!, encodeURIComponent(email)]) {
      expect(exported.includes(secret) ? `exported spans contain ${secret === token ? 'the session token' : secret}: ${where(secret).join(' | ')}` : 'clean').toBe('clean');
    }
    expect(exported).not.toMatch(/auth_token|cookie/i);
  }, 180_000);

  it('a request the entry does not sample leaves no span in any service (the decision travels with the trace), and background work starts no trace', async () => {
    const names: [string, string][] = [[API, 'SignalWithStartWorkflow:signupWorkflow'], [WORKER, 'RunActivity:isEmailRegistered'], [WORKER, 'RunActivity:sendCodeEmail'], [WORKER, 'kafka request user.exists'], [DB, `${TOPICS.dbRequests} handle`]];
    const counted = (s: ReceivedSpan) => names.some(([svc, name]) => s.service === svc && s.name === name);
    const from = sink.spans.length;
    const traceparent = (traceId: string, flags: '00' | '01') => ({ traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}` });
    // A caller that decided not to sample (W3C flags 00): the parent-based sampler follows it.
    const dropped = randomBytes(16).toString('hex');
    const quiet = uniqueEmail('trace-unsampled');
    expect((await new ApiClient(api.base).post('/signup', { email: quiet }, traceparent(dropped, '00'))).status).toBe(202);
    await waitForCode(quiet, 1, 60_000);
    // A sampled signup after it: once its worker and DB processor spans are in, the unsampled one's would be.
    const kept = randomBytes(16).toString('hex');
    const loud = uniqueEmail('trace-sampled');
    expect((await new ApiClient(api.base).post('/signup', { email: loud }, traceparent(kept, '01'))).status).toBe(202);
    await waitForCode(loud, 1, 60_000);
    await eventually(async () => names.every(([svc, name]) => sink.spans.slice(from).some((s) => s.traceId === kept && s.service === svc && s.name === name)) || undefined, 60_000, 'the sampled signup\'s spans').catch((e) => { throw new Error(`${e.message}; kept trace has: ${sink.spans.filter((s) => s.traceId === kept).map((s) => `${s.service} ${s.name}`).join('; ')}`); });
    expect(sink.spans.filter((s) => s.traceId === dropped).map((s) => `${s.service} ${s.name}`)).toEqual([]);
    // Nor a root of its own anywhere (the unsampled request runs in no span context: the Temporal call
    // starts a span of its own, unsampled): every new span of these kinds is the sampled signup's.
    expect(sink.spans.slice(from).filter((s) => counted(s) && s.traceId !== kept).map((s) => `${s.service} ${s.name} ${s.traceId}`)).toEqual([]);
    // Background work (the outbox relay's turn every second, the gauges' queries) starts no trace:
    // every DB processor span in this window belongs to a trace a request started at the API.
    const fromApi = new Set(sink.spans.filter((s) => s.service === API).map((s) => s.traceId));
    expect(sink.spans.slice(from).filter((s) => s.service === DB && !fromApi.has(s.traceId)).map((s) => `${s.name} ${s.traceId}`)).toEqual([]);
  }, 180_000);

  it('by default the API ignores a caller\'s trace context: a caller can neither pick the trace id nor force sampling', async () => {
    const forced = randomBytes(16).toString('hex');
    const res = await new ApiClient(`http://127.0.0.1:${edgePort}/api/v1/auth`).get('/me', { traceparent: `00-${forced}-${randomBytes(8).toString('hex')}-01` });
    expect(res.status).toBe(401);
    const span = await eventually(
      async () => sink.spans.find((s) => s.service === API && s.kind === SERVER && s.attributes['http.target'] === '/api/v1/auth/me' && Number(s.attributes['net.host.port']) === edgePort),
      30_000,
      'the edge API\'s /me span',
    );
    expect(span.traceId).not.toBe(forced);
    expect(span.parentSpanId ?? '').toBe('');
    expect(sink.spans.filter((s) => s.traceId === forced)).toEqual([]);
  }, 60_000);
});
