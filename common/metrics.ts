import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { listenHttp, type RunningServer } from './http-server';

/**
 * Every Prometheus metric of the system, defined once. Each process serves the registry of its
 * role (the API on its own metrics port, the worker and the DB processor beside /health); a metric
 * used by two roles (Kafka requests, sessions) sits in both registries.
 *
 * Labels hold fixed vocabularies only (route templates, request types, outcomes, limiter names):
 * never an email, a name, an IP address, a user or session id, a workflow id.
 */
export type MetricsRole = 'api' | 'worker' | 'db-processor';

const registries: Record<MetricsRole, Registry> = { api: new Registry(), worker: new Registry(), 'db-processor': new Registry() };
const withDefaults = new Set<MetricsRole>();

/** The registry a process of this role serves; Node's own metrics (CPU, heap, event loop) included. */
export function metricsRegistry(role: MetricsRole): Registry {
  if (!withDefaults.has(role)) {
    withDefaults.add(role);
    collectDefaultMetrics({ register: registries[role] });
  }
  return registries[role];
}

const on = (...roles: MetricsRole[]) => roles.map((r) => registries[r]);

export interface SignupWorkflowCount {
  state: 'running' | 'closed';
  status: string;
  count: number;
}
let signupWorkflowSource: (() => Promise<SignupWorkflowCount[]>) | undefined;

/** Where cfd_signup_workflows reads its numbers at each scrape (the API's Temporal visibility counts). */
export function reportSignupWorkflows(source: (() => Promise<SignupWorkflowCount[]>) | undefined): void {
  signupWorkflowSource = source;
}

let outboxSource: (() => Promise<{ unsent: number; oldestUnsentSeconds: number }>) | undefined;

/** Where the outbox gauges read at each scrape (the DB processor's relay). */
export function reportOutbox(source: typeof outboxSource): void {
  outboxSource = source;
}

let consumerLagSource: (() => Promise<{ group: string; topic: string; lag: number }[]>) | undefined;

/** Where cfd_kafka_consumer_lag_messages reads the lag at each scrape (the DB processor's admin client). */
export function reportConsumerLag(source: typeof consumerLagSource): void {
  consumerLagSource = source;
}

/** Seconds: from a few ms (Redis, Kafka) to the 10 s verify deadline and SMTP timeouts. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const metrics = {
  // --- API -----------------------------------------------------------------------------------
  httpRequestDuration: new Histogram({
    name: 'cfd_http_request_duration_seconds',
    help: 'HTTP requests answered by the API, by route template (never the raw path), method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: on('api'),
  }),
  signupRequests: new Counter({
    name: 'cfd_signup_requests_total',
    help: 'Code requests the API handed to a signup workflow (kind: signup starts or joins the signup of an email, resend asks it for a new code)',
    labelNames: ['kind'] as const,
    registers: on('api'),
  }),
  signupsVerified: new Counter({
    name: 'cfd_signups_verified_total',
    help: 'Signups whose code was accepted and whose account was created (a session was issued)',
    registers: on('api'),
  }),
  codeChecks: new Counter({
    name: 'cfd_code_checks_total',
    help: 'One-time codes checked, by flow and result (accepted, or the rejection code: INVALID_CODE, CODE_EXPIRED, TOO_MANY_ATTEMPTS, ...)',
    labelNames: ['flow', 'result'] as const,
    registers: on('api'),
  }),
  rateLimitRejections: new Counter({
    name: 'cfd_rate_limit_rejections_total',
    help: 'Requests refused with 429 RATE_LIMITED, by limiter',
    labelNames: ['limiter'] as const,
    registers: on('api'),
  }),
  bcryptDuration: new Histogram({
    name: 'cfd_bcrypt_duration_seconds',
    help: 'bcrypt work in the API (op: hash or compare)',
    labelNames: ['op'] as const,
    buckets: [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2],
    registers: on('api'),
  }),
  signupWorkflows: new Gauge({
    name: 'cfd_signup_workflows',
    help: 'Signup workflows in the namespace by SignupStatus, from Temporal visibility (state: running, or closed within the namespace retention); every API instance reports the same numbers',
    labelNames: ['state', 'status'] as const,
    registers: on('api'),
    async collect() {
      if (!signupWorkflowSource) return;
      const rows = await signupWorkflowSource();
      this.reset();
      for (const r of rows) this.set({ state: r.state, status: r.status }, r.count);
    },
  }),

  // --- worker (activities) --------------------------------------------------------------------
  signupsStarted: new Counter({
    name: 'cfd_signups_started_total',
    help: 'Signup workflow runs that checked their email (account: new or existing)',
    labelNames: ['account'] as const,
    registers: on('worker'),
  }),
  mailAttempts: new Counter({
    name: 'cfd_mail_send_attempts_total',
    help: 'Mail send attempts by mail kind and result (sent, smtp_unavailable, smtp_refused, already_sent, in_progress)',
    labelNames: ['mail', 'result'] as const,
    registers: on('worker'),
  }),
  mailSendDuration: new Histogram({
    name: 'cfd_mail_send_duration_seconds',
    help: 'Duration of one SMTP send (sent or failed), by mail kind and result',
    labelNames: ['mail', 'result'] as const,
    buckets: LATENCY_BUCKETS,
    registers: on('worker'),
  }),

  // --- Kafka ------------------------------------------------------------------------------------
  kafkaRequestDuration: new Histogram({
    name: 'cfd_kafka_request_duration_seconds',
    help: 'Request/reply round trips to the DB processor, by request type and outcome (ok, remote_error, timeout)',
    labelNames: ['type', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: on('api', 'worker'),
  }),
  kafkaConsumerLag: new Gauge({
    name: 'cfd_kafka_consumer_lag_messages',
    help: 'Messages on the topic not yet committed by the consumer group (sum over partitions)',
    labelNames: ['group', 'topic'] as const,
    registers: on('db-processor'),
    async collect() {
      if (!consumerLagSource) return;
      const rows = await consumerLagSource();
      this.reset();
      for (const r of rows) this.set({ group: r.group, topic: r.topic }, r.lag);
    },
  }),
  outboxUnsent: new Gauge({
    name: 'cfd_auth_events_outbox_unsent',
    help: 'Auth events committed to the outbox and not yet published to auth.events.v1',
    registers: on('db-processor'),
    async collect() {
      if (!outboxSource) return;
      this.set((await outboxSource()).unsent);
    },
  }),
  outboxOldestUnsent: new Gauge({
    name: 'cfd_auth_events_outbox_oldest_unsent_seconds',
    help: 'Age of the oldest auth event not yet published (0 when none waits)',
    registers: on('db-processor'),
    async collect() {
      if (!outboxSource) return;
      this.set((await outboxSource()).oldestUnsentSeconds);
    },
  }),
  authEventsPublished: new Counter({
    name: 'cfd_auth_events_published_total',
    help: 'Auth events the relay published (a republished event counts again)',
    registers: on('db-processor'),
  }),
  kafkaDeadLetters: new Counter({
    name: 'cfd_kafka_dead_letters_total',
    help: 'Requests the DB processor moved to the dead-letter topic, by reason',
    labelNames: ['reason'] as const,
    registers: on('db-processor'),
  }),
  dbRequestDuration: new Histogram({
    name: 'cfd_db_request_duration_seconds',
    help: 'Requests handled by the DB processor, by request type and outcome (ok, error code, dead_letter, dropped)',
    labelNames: ['type', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: on('db-processor'),
  }),

  // --- sessions (API, and the worker's account flows revoke them) --------------------------------
  sessionsCreated: new Counter({
    name: 'cfd_sessions_created_total',
    help: 'Sessions created',
    registers: on('api', 'worker'),
  }),
  sessionsRevoked: new Counter({
    name: 'cfd_sessions_revoked_total',
    help: 'Sessions revoked (logout, sign out elsewhere, password or email change, account closure)',
    registers: on('api', 'worker'),
  }),
};

/** Runs `fn` and observes its duration in `histogram` with the labels `labelsOf` gives for its result. */
export async function timed<T, L extends string>(
  histogram: Histogram<L>,
  fn: () => Promise<T>,
  labelsOf: (err: unknown, value?: T) => Partial<Record<L, string>>,
): Promise<T> {
  const end = histogram.startTimer();
  let value: T;
  try {
    value = await fn();
  } catch (err) {
    end(labelsOf(err));
    throw err;
  }
  end(labelsOf(undefined, value));
  return value;
}

/** bcrypt in the API, timed. */
export function timeBcrypt<T>(op: 'hash' | 'compare', fn: () => Promise<T>): Promise<T> {
  return timed(metrics.bcryptDuration, fn, () => ({ op }));
}

/** The Prometheus text exposition of a registry, for an HTTP handler. */
export async function exposition(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** Answers a scrape: the registry's exposition, or 503 when a collector failed. */
export function serveMetrics(registry: Registry, res: http.ServerResponse): void {
  exposition(registry).then(
    ({ contentType, body }) => {
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
    },
    () => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'UNAVAILABLE', message: 'Metrics could not be collected.' }));
    },
  );
}

/** A loopback HTTP server that answers GET /metrics and nothing else (the API's metrics port). */
export function startMetricsServer(registry: Registry, host: string, port: number): Promise<RunningServer> {
  return listenHttp((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'NOT_FOUND', message: 'Only GET /metrics is served here.' }));
      return;
    }
    serveMetrics(registry, res);
  }, host, port);
}
