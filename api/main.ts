import './tracing';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import type { Config } from '../common/config';
import { exitWhenNotLive } from '../common/health';
import { runProcess } from '../common/process';
import { deriveKeys } from '../common/crypto';
import { createKafka, requireTopics } from '../common/kafka/client';
import { EnvelopeSecurity } from '../common/kafka/envelope-security';
import { KafkaRequester } from '../common/kafka/request-reply';
import { createLogger, type Logger } from '../common/logger';
import { tracing } from '../common/tracing';
import { metricsRegistry, reportSignupWorkflows, startMetricsServer } from '../common/metrics';
import { TASK_QUEUE } from '../temporal-config';
import { connectionOptions, taskQueue } from '../temporal-config/connection';
import { dataConverter } from '../temporal-config/payload-codec';
import { ormConfig } from '../entities/mikro-orm.config';
import { SigningKeySchema } from '../entities/signing-key.entity';
import { createApp } from './app';
import { createAdminUseCases } from './admin/admin.use-case';
import { createAccessTokens } from './tokens/access-token';
import { SigningKeyCache } from './tokens/key-cache';
import { publishedKeys } from './tokens/signing-keys';
import { createAuditTrail } from './audit/audit-trail';
import { signupWorkflowCounts } from './signup-workflow-counts';
import { createDeviceCookies } from './security/device-cookie';
import { RateLimits } from './security/rate-limits';
import { commonPasswords } from './security/password-policy';
import { SessionStore } from './sessions/session.store';
import { createClosureUseCases } from './use-cases/closure.use-case';
import { createSigninNotices } from './use-cases/signin-notice';
import { createMfaUseCases } from './mfa/mfa.use-case';
import { createPasskeyUseCases } from './passkeys/passkeys.use-case';
import { createEmailUseCases } from './use-cases/email.use-case';
import { createPasswordUseCases } from './use-cases/password.use-case';
import { createSessionUseCases } from './use-cases/sessions.use-case';
import { createSigninUseCases, makeDummyHash } from './use-cases/signin.use-case';
import { createSignupUseCases } from './use-cases/signup.use-case';

export interface ApiHandle {
  port: number;
  url: string;
  /** Where GET /metrics answers (METRICS_HOST:API_METRICS_PORT; never the API's own port). */
  metricsUrl: string;
  close(): Promise<void>;
}

export interface ApiStartOptions {
  logger?: Logger;
  /** Task queue of the signup workflows (tests use a queue of their own). */
  taskQueue?: string;
}

/**
 * Starts the API. Temporal is connected lazily, so the API starts (and answers 503) while Temporal
 * is down; Redis and Kafka are needed at start.
 */
export async function start(config: Config, opts: ApiStartOptions = {}): Promise<ApiHandle> {
  const logger = opts.logger ?? createLogger('api', config.LOG_LEVEL);
  commonPasswords();
  const keys = deriveKeys(config);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 2000, connectTimeout: 2000, enableAutoPipelining: true });
  redis.on('error', (err) => logger.warn({ err: { message: err.message } }, 'redis error'));
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('end', () => reject(new Error('redis unreachable')));
  });
  const kafka = createKafka(config, logger, 'api');
  await requireTopics(kafka, 'api');
  const requester = new KafkaRequester(kafka, { role: 'api', timeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS, logger, security: EnvelopeSecurity.fromConfig(config), rejoinBoundMs: config.KAFKA_REJOIN_BOUND_MS });
  const [dummyHash] = await Promise.all([makeDummyHash(config.BCRYPT_COST), requester.start()]);
  const connection = Connection.lazy(connectionOptions(config));
  // With tracing on, a workflow start or update carries the request's trace context in its headers.
  const interceptors = tracing() ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverter(config), interceptors });

  // The API reads two tables and writes none: signing_keys (the cache below re-reads it in the
  // background) and audit_event (the admin API's listing; rows are appended by the DB processor).
  const orm = await MikroORM.init(ormConfig(config.DATABASE_URL, { entities: [SigningKeySchema], connect: false, pool: { min: 0, max: 2, acquireTimeoutMillis: 5000 } }));
  const signingKeys = new SigningKeyCache(() => publishedKeys(orm.em.fork()), keys, {
    refreshMs: config.SIGNING_KEY_REFRESH_MS,
    maxStaleMs: (config.SIGNING_KEY_PUBLISH_LEAD_S * 1000) / 2,
    logger,
  });
  await signingKeys.start();

  const idleMs = config.SESSION_IDLE_TTL_S * 1000;
  // Refresh the idle timer at most once a minute, and often enough for short idle timeouts.
  const sessions = new SessionStore(redis, { absoluteMs: config.SESSION_ABSOLUTE_TTL_S * 1000, idleMs, touchEveryMs: Math.min(60_000, idleMs / 10) });
  const limits = new RateLimits(redis, config);
  const trail = createAuditTrail(requester, logger);
  const sessionUseCases = createSessionUseCases({ sessions, config });
  const issueSession = sessionUseCases.issue;
  const liveChecks = {
    kafka: () => (requester.isLive ? undefined : `reply consumer not back in its group within ${config.KAFKA_REJOIN_BOUND_MS} ms`),
  };
  const stopLivenessExit = config.EXIT_WHEN_NOT_LIVE ? exitWhenNotLive(liveChecks, logger) : () => undefined;
  const flowQueue = opts.taskQueue ?? taskQueue(config, TASK_QUEUE);
  const devices = createDeviceCookies(config);
  const notices = createSigninNotices({ temporal, taskQueue: flowQueue, config, keys });
  const mfa = createMfaUseCases({ temporal, taskQueue: flowQueue, config, keys, limits, requester, redis, sessions, issueSession, devices, notices });
  const app = createApp({
    config,
    logger,
    trail,
    sessions,
    sessionUseCases,
    signingKeys,
    accessTokens: createAccessTokens({ config, keys, signingKeys }),
    signup: createSignupUseCases({ temporal, taskQueue: flowQueue, config, keys, limits, issueSession }),
    password: createPasswordUseCases({ temporal, taskQueue: flowQueue, config, keys, limits, requester, issueSession }),
    email: createEmailUseCases({ temporal, taskQueue: flowQueue, config, keys, limits, requester, sessions, issueSession }),
    closure: createClosureUseCases({ temporal, taskQueue: flowQueue, config, keys, limits, requester, sessions }),
    signin: createSigninUseCases({ requester, keys, limits, issueSession, dummyHash, devices, notices }),
    admin: createAdminUseCases({ requester, sessions, limits, keys, em: () => orm.em.fork() }),
    mfa,
    passkeys: createPasskeyUseCases({ config, redis, requester, limits, sessions, mfa }),
    readinessChecks: {
      redis: async () => {
        await redis.ping();
      },
      kafka: async () => {
        if (!requester.isReady) throw new Error('requester not ready');
      },
      temporal: async () => {
        await connection.withDeadline(Date.now() + 2000, () => connection.healthService.check({}));
      },
    },
    livenessChecks: liveChecks,
  });

  const server: Server = await new Promise((resolve, reject) => {
    // Express 5 hands a listen error (EADDRINUSE) to this callback rather than throwing.
    const s = app.listen(config.API_PORT, config.API_HOST, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  reportSignupWorkflows(signupWorkflowCounts(temporal));
  const metricsServer = await startMetricsServer(metricsRegistry('api'), config.METRICS_HOST, config.API_METRICS_PORT).catch(async (err: unknown) => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 30_000;
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, host: config.API_HOST, metricsPort: metricsServer.port }, 'api listening');

  return {
    port,
    url: `http://${config.API_HOST}:${port}`,
    metricsUrl: `http://${config.METRICS_HOST}:${metricsServer.port}/metrics`,
    async close() {
      stopLivenessExit();
      reportSignupWorkflows(undefined);
      await metricsServer.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await trail.flush();
      signingKeys.stop();
      await orm.close(true);
      await requester.close();
      await connection.close().catch(() => undefined);
      redis.disconnect();
    },
  };
}

if (require.main === module) runProcess('api', (config, logger) => start(config, { logger }));
