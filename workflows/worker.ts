import './worker-tracing';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, type WorkerOptions } from '@temporalio/worker';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import Redis from 'ioredis';
import { createActivities } from '../activities';
import type { Config } from '../common/config';
import { runProcess } from '../common/process';
import { deriveKeys } from '../common/crypto';
import { exitWhenNotLive, startHealthServer } from '../common/health';
import { createKafka, requireTopics } from '../common/kafka/client';
import { EnvelopeSecurity } from '../common/kafka/envelope-security';
import { KafkaRequester } from '../common/kafka/request-reply';
import { createLogger, type Logger } from '../common/logger';
import { tracing } from '../common/tracing';
import { createMailer, SMTP_SEND_TIMEOUT_MS } from '../common/mailer';
import { metricsRegistry } from '../common/metrics';
import { SessionStore } from '../api/sessions/session.store';
import { TASK_QUEUE } from '../temporal-config';
import { connectionOptions, taskQueue } from '../temporal-config/connection';
import { dataConverter } from '../temporal-config/payload-codec';
import { bundleInChild } from './bundle';

/** The OpenTelemetry workflow interceptors: they join the bundle when tracing is on. */
const OTEL_WORKFLOW_INTERCEPTORS = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

export interface WorkerHandle {
  taskQueue: string;
  healthPort: number;
  close(): Promise<void>;
}

export interface WorkerStartOptions {
  /** A bundle made once with bundleWorkflowCode (tests, without the tracing interceptors); otherwise a child process bundles at start (bundle.ts). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  taskQueue?: string;
  logger?: Logger;
}

export async function start(config: Config, opts: WorkerStartOptions = {}): Promise<WorkerHandle> {
  const logger = opts.logger ?? createLogger('worker', config.LOG_LEVEL);
  const queue = opts.taskQueue ?? taskQueue(config, TASK_QUEUE);
  const traces = tracing();
  // The bundle is made in a child process (about 2 s) while the connections below are made.
  const bundle = opts.workflowBundle ? Promise.resolve(opts.workflowBundle) : bundleInChild(traces ? [OTEL_WORKFLOW_INTERCEPTORS] : []).then((code) => ({ code }));
  bundle.catch(() => undefined); // awaited at Worker.create; a connection failing first leaves it handled
  // commandTimeout: a command to an unreachable Redis fails within the local activity's attempt (2 s),
  // so the verify handler answers UNAVAILABLE inside the API's deadline instead of hanging past it.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 3000, commandTimeout: 1500, enableOfflineQueue: true });
  const kafka = createKafka(config, logger, 'worker');
  await requireTopics(kafka, 'worker');
  const requester = new KafkaRequester(kafka, { role: 'worker', timeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS, logger, security: EnvelopeSecurity.fromConfig(config), rejoinBoundMs: config.KAFKA_REJOIN_BOUND_MS });
  await requester.start();
  const mailer = createMailer(config);
  const connection = await NativeConnection.connect(connectionOptions(config));
  const worker = await Worker.create({
    // Tracing: activity interceptors, and the sink that exports the spans the workflow interceptors
    // (in the bundle) make in the sandbox.
    ...(traces
      ? {
          interceptors: { activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })] },
          sinks: { exporter: makeWorkflowExporter(traces.spanProcessor, traces.resource) },
        }
      : {}),
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: queue,
    workflowBundle: await bundle,
    dataConverter: dataConverter(config),
    activities: createActivities({ redis, mailer, requester, keys: deriveKeys(config), webBaseUrl: config.WEB_ORIGINS[0], sessions: new SessionStore(redis, { absoluteMs: config.SESSION_ABSOLUTE_TTL_S * 1000, idleMs: config.SESSION_IDLE_TTL_S * 1000 }) }),
    // One setting for both: as many activities at once as SMTP connections in the pool.
    maxConcurrentActivityTaskExecutions: config.MAIL_CONCURRENCY,
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    // A stopping worker lets a send in flight finish (its socket gives up after SMTP_SEND_TIMEOUT_MS)
    // instead of cancelling it and having the retry mail a second copy.
    shutdownGraceTime: SMTP_SEND_TIMEOUT_MS + 5_000,
  });
  const running = worker.run();
  running.catch((err) => logger.error({ err: { message: (err as Error).message } }, 'worker stopped with an error'));

  const liveChecks = {
    kafka: () => (requester.isLive ? undefined : `reply consumer not back in its group within ${config.KAFKA_REJOIN_BOUND_MS} ms`),
  };
  const health = await startHealthServer(config.API_HOST, config.WORKER_HEALTH_PORT, {
    temporal: async () => {
      if (worker.getState() !== 'RUNNING') throw new Error(worker.getState());
    },
    redis: async () => {
      await redis.ping();
    },
    kafka: async () => {
      if (!requester.isReady) throw new Error('requester not ready');
    },
    smtp: async () => {
      await mailer.transport.verify();
    },
  }, liveChecks, metricsRegistry('worker'));
  const stopLivenessExit = config.EXIT_WHEN_NOT_LIVE ? exitWhenNotLive(liveChecks, logger) : () => undefined;
  logger.info({ taskQueue: queue, namespace: config.TEMPORAL_NAMESPACE, healthPort: health.port }, 'worker started');

  return {
    taskQueue: queue,
    healthPort: health.port,
    async close() {
      stopLivenessExit();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await health.close();
      await connection.close();
      await requester.close();
      mailer.transport.close();
      redis.disconnect();
    },
  };
}

/**
 * The Temporal SDK's own worker metrics (task slots, schedule-to-start latency, poll and sticky
 * cache figures, activity and workflow outcomes by type), served by its core in Prometheus format
 * on METRICS_HOST:WORKER_TEMPORAL_METRICS_PORT (0: off). Durations in seconds, counters with
 * `_total`, like every other metric here. Runtime.install may run once per process.
 */
export function temporalMetricsOptions(host: string, port: number) {
  if (port === 0) return undefined;
  return {
    metricPrefix: 'temporal_',
    prometheus: { bindAddress: `${host}:${port}`, useSecondsForDurations: true, countersTotalSuffix: true },
  };
}

/**
 * Temporal's own logs (core and SDK, activities' `log` included) go through pino like everything
 * else; with `config`, the SDK's metrics are served too (temporalMetricsOptions).
 */
export function installRuntimeLogger(logger: Logger, config?: Config): void {
  const metrics = config ? temporalMetricsOptions(config.METRICS_HOST, config.WORKER_TEMPORAL_METRICS_PORT) : undefined;
  Runtime.install({
    logger: {
      log: (level, message, meta) => logger[level === 'TRACE' ? 'trace' : (level.toLowerCase() as 'debug' | 'info' | 'warn' | 'error')](meta ?? {}, message),
      trace: (m, meta) => logger.trace(meta ?? {}, m),
      debug: (m, meta) => logger.debug(meta ?? {}, m),
      info: (m, meta) => logger.info(meta ?? {}, m),
      warn: (m, meta) => logger.warn(meta ?? {}, m),
      error: (m, meta) => logger.error(meta ?? {}, m),
    },
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) }, ...(metrics ? { metrics } : {}) },
  });
}

if (require.main === module) {
  runProcess('worker', (config, logger) => {
    installRuntimeLogger(logger, config);
    return start(config, { logger });
  });
}
