import './tracing';
import { context, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { MikroORM } from '@mikro-orm/postgresql';
import { Partitioners, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import type { Config } from '../common/config';
import { Code, type ReplyErrorCode } from '../common/errors';
import { runProcess } from '../common/process';
import { SealError } from '../common/crypto';
import { exitWhenNotLive, startHealthServer } from '../common/health';
import { createKafka, requireTopics } from '../common/kafka/client';
import { EnvelopeSecurity, TRACE_HEADERS, traceContextOf, type Verified } from '../common/kafka/envelope-security';
import { tracer, untraced } from '../common/tracing';
import { SupervisedConsumer, supervisedConsumerConfig } from '../common/kafka/supervised-consumer';
import { MAX_MESSAGE_BYTES, MESSAGE_VERSION, RequestEnvelope, REQUESTS, type RequestType } from '../common/kafka/messages';
import { DB_PROCESSOR_AUDIT_GROUP, DB_PROCESSOR_GROUP, TOPICS } from '../common/kafka/topics';
import { createLogger, type Logger } from '../common/logger';
import { metrics, metricsRegistry, reportConsumerLag, reportOutbox } from '../common/metrics';
import { ormConfig } from '../entities/mikro-orm.config';
import { EventSigner } from '../common/events/event-signing';
import { EventRelay } from './event-relay';
import { ReplayGuard } from './replay-guard';
import { safeDbError } from './safe-db-error';
import { createUserHandlers, HandlerError, type Handlers } from './user.handlers';

export interface DbProcessor {
  healthPort: number;
  close(): Promise<void>;
}

type Outcome =
  | { kind: 'reply'; ok: true; result: unknown }
  | { kind: 'reply'; ok: false; code: ReplyErrorCode; message: string }
  | { kind: 'dead-letter'; reason: string }
  | { kind: 'drop'; reason: string };

/**
 * Consumes DB requests in two lanes, each a consumer group (scale out by running more instances:
 * partitions are shared among them): requests someone waits on, and audit rows. Answers on the
 * replies topic, and dead-letters what it cannot read.
 */
export async function start(config: Config, logger: Logger = createLogger('db-processor', config.LOG_LEVEL)): Promise<DbProcessor> {
  const orm = await MikroORM.init(ormConfig(config.DATABASE_URL));
  const kafka = createKafka(config, logger, 'db-processor');
  await requireTopics(kafka, 'db-processor');
  const handlers = createUserHandlers(config);
  const security = EnvelopeSecurity.fromConfig(config);
  const guard = new ReplayGuard(orm, security.maxAgeMs);
  const purge = setInterval(() => {
    guard.purge().catch((err: unknown) => logger.warn({ err: safeDbError(err) }, 'purging seen message ids failed'));
  }, 60_000);
  purge.unref();
  const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  // A short session timeout: when an instance dies (kill -9), its partitions move to the others
  // after 10 s instead of kafkajs' default 30 s, and a restarted group forms as quickly.
  const consumerConfig = (groupId: string) => supervisedConsumerConfig({
    groupId,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    allowAutoTopicCreation: false,
  });
  // One consumer per lane (requests someone waits on; audit rows), each with its own fetch loop.
  // Rebuilt after any crash (a non-retriable one after a broker restart included); liveness fails
  // when one cannot rejoin within KAFKA_REJOIN_BOUND_MS, so a supervisor restarts the process.
  const lanes = [
    { name: 'db-requests', topic: TOPICS.dbRequests, group: DB_PROCESSOR_GROUP },
    { name: 'db-audit', topic: TOPICS.dbAudit, group: DB_PROCESSOR_AUDIT_GROUP },
  ].map((lane) => ({
    ...lane,
    consumer: new SupervisedConsumer({
      name: lane.name,
      create: () => kafka.consumer(consumerConfig(lane.group)),
      logger,
      rejoinBoundMs: config.KAFKA_REJOIN_BOUND_MS,
      sessionTimeoutMs: 10_000,
    }),
  }));

  // Fails at start, not at the first event, when production lacks the signing keys.
  const signer = EventSigner.fromConfig(config);
  await producer.connect();
  const relay = new EventRelay(orm, producer, signer, logger, {
    intervalMs: config.EVENT_RELAY_INTERVAL_MS,
    batch: config.EVENT_RELAY_BATCH,
    sentRetentionS: config.OUTBOX_SENT_RETENTION_S,
  });
  relay.start();
  reportOutbox(() => untraced(() => relay.backlog()));
  for (const { topic, consumer } of lanes) {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      partitionsConsumedConcurrently: 6,
      // Each request is handled in the trace its authenticated trace headers name (checked here once
      // more only when it has them); the kafkajs span's parent, from a header nobody signs, is not followed.
      eachMessage: ({ message, partition }) => {
        const parent = message.headers?.[TRACE_HEADERS.parent] ? traceContextOf(security.verify('request', topic, message)) : ROOT_CONTEXT;
        return context.with(parent, () =>
          tracer().startActiveSpan(`${topic} handle`, { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': topic } }, async (span) => {
            try {
              span.setAttribute('cfd.request.outcome', await handleOne(topic, message, partition));
            } finally {
              span.end();
            }
          }),
        );
      },
    });
  }

  async function handleOne(topic: string, message: KafkaMessage, partition: number): Promise<string> {
    const end = metrics.dbRequestDuration.startTimer();
    const { outcome, route, type } = await handle(topic, message, { handlers, orm, logger, security, guard });
    end({ type: type ?? 'unknown', outcome: outcome.kind === 'reply' ? (outcome.ok ? 'ok' : outcome.code) : outcome.kind === 'dead-letter' ? 'dead_letter' : 'dropped' });
    const meta = { topic, partition, offset: message.offset };
    if (outcome.kind === 'dead-letter') {
      metrics.kafkaDeadLetters.inc({ reason: outcome.reason });
      logger.warn({ ...meta, reason: outcome.reason }, 'request dead-lettered');
      await producer.send({
        topic: TOPICS.dbDeadLetter,
        messages: [{
          key: message.key,
          value: message.value,
          // The original headers (message id, MAC) stay, for inspection and replay forensics.
          headers: { ...message.headers, 'x-dlq-reason': outcome.reason, 'x-source-topic': topic, 'x-source-offset': message.offset },
        }],
      });
    } else if (outcome.kind === 'drop') {
      logger.info({ ...meta, reason: outcome.reason }, 'request dropped');
    }
    // Even a dead-lettered request gets an answer when it says where to send one.
    if (route && outcome.kind !== 'drop') {
      const body = outcome.kind === 'reply'
        ? outcome.ok
          ? { ok: true, result: outcome.result }
          : { ok: false, error: { code: outcome.code, message: outcome.message } }
        : { ok: false, error: { code: Code.INVALID_REQUEST, message: outcome.reason } };
      await producer.send({ topic: TOPICS.dbReplies, messages: [security.replyMessage(route, body as Parameters<EnvelopeSecurity['replyMessage']>[1])] });
    }
    return outcome.kind === 'reply' ? (outcome.ok ? 'ok' : outcome.code) : outcome.kind;
  }

  const liveChecks = {
    kafka: () => {
      const out = lanes.filter((l) => !l.consumer.isLive).map((l) => l.group);
      return out.length ? `${out.join(', ')}: not back in the consumer group within ${config.KAFKA_REJOIN_BOUND_MS} ms` : undefined;
    },
  };
  const lag = consumerLag(kafka, lanes);
  reportConsumerLag(lag.read);
  const health = await startHealthServer(config.API_HOST, config.DB_PROCESSOR_HEALTH_PORT, {
    postgres: async () => {
      if (!(await orm.isConnected())) throw new Error('postgres down');
    },
    kafka: async () => {
      const out = lanes.filter((l) => !l.consumer.isReady).map((l) => l.group);
      if (out.length) throw new Error(`not in the consumer group: ${out.join(', ')}`);
    },
  }, liveChecks, metricsRegistry('db-processor'));
  const stopLivenessExit = config.EXIT_WHEN_NOT_LIVE ? exitWhenNotLive(liveChecks, logger) : () => undefined;
  logger.info({ healthPort: health.port, groups: lanes.map((l) => l.group) }, 'db-processor started');

  return {
    healthPort: health.port,
    async close() {
      clearInterval(purge);
      stopLivenessExit();
      reportConsumerLag(undefined);
      reportOutbox(undefined);
      await lag.close();
      await Promise.all(lanes.map((l) => l.consumer.disconnect().catch(() => undefined)));
      await relay.stop();
      await producer.disconnect().catch(() => undefined);
      await health.close();
      await orm.close(true);
    },
  };
}

/**
 * Each group's lag on its topic (latest offsets minus committed offsets, summed over partitions),
 * read with one admin client at most every `maxAgeMs` when Prometheus scrapes.
 */
function consumerLag(kafka: Kafka, pairs: readonly { group: string; topic: string }[], maxAgeMs = 5_000) {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  let cached: { at: number; lags: { group: string; topic: string; lag: number }[] } | undefined;
  const lagOf = async (groupId: string, topic: string) => {
    const [latest, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const done = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
    let lag = 0;
    for (const p of latest) {
      const high = Number(p.high);
      const at = done.get(p.partition) ?? -1;
      // No committed offset yet (-1): the group starts at the end (fromBeginning false), no lag.
      if (at >= 0) lag += Math.max(0, high - at);
    }
    return lag;
  };
  return {
    async read(): Promise<{ group: string; topic: string; lag: number }[]> {
      if (!cached || Date.now() - cached.at >= maxAgeMs) {
        try {
          connected ??= admin.connect().catch((err: unknown) => {
            connected = undefined;
            throw err;
          });
          await connected;
          const lags = await Promise.all(pairs.map(async ({ group, topic }) => ({ group, topic, lag: await lagOf(group, topic) })));
          cached = { at: Date.now(), lags };
        } catch {
          if (!cached) return [];
        }
      }
      return cached.lags;
    },
    close: () => (connected ? admin.disconnect().catch(() => undefined) : Promise.resolve()),
  };
}

type Route = { correlationId: string; replyTo: string };

/** The routing part of a request, when it has one. */
function routeOf(raw: unknown): Route | undefined {
  const r = raw as { correlationId?: unknown; replyTo?: unknown } | null;
  return typeof r?.correlationId === 'string' && typeof r?.replyTo === 'string' && r.replyTo.length <= 200
    ? { correlationId: r.correlationId, replyTo: r.replyTo }
    : undefined;
}

interface Deps {
  handlers: Handlers;
  orm: MikroORM;
  logger: Logger;
  security: EnvelopeSecurity;
  guard: ReplayGuard;
}

/**
 * Unauthenticated, stale and replayed messages are dead-lettered without an answer: only a request
 * that proves it comes from a requester may cause a reply.
 */
async function handle(topic: string, message: KafkaMessage, deps: Deps): Promise<{ outcome: Outcome; route?: Route; type?: RequestType }> {
  if (!message.value || message.value.length === 0) return { outcome: { kind: 'dead-letter', reason: 'empty' } };
  if (message.value.length > MAX_MESSAGE_BYTES) return { outcome: { kind: 'dead-letter', reason: 'too_large' } };
  const checked = deps.security.verify('request', topic, message);
  if (!checked.ok) return { outcome: { kind: 'dead-letter', reason: checked.reason } };
  let raw: unknown;
  try {
    raw = JSON.parse(message.value.toString('utf8'));
  } catch {
    return { outcome: { kind: 'dead-letter', reason: 'not_json' } };
  }
  const outcome = await processRequest(raw, checked, deps);
  const type = (raw as { type?: unknown } | null)?.type;
  return {
    outcome,
    route: outcome.kind === 'dead-letter' && outcome.reason === 'replayed' ? undefined : routeOf(raw),
    // A label takes only a known request type, never what a sender wrote.
    type: typeof type === 'string' && Object.hasOwn(REQUESTS, type) ? (type as RequestType) : undefined,
  };
}

async function processRequest(raw: unknown, checked: Extract<Verified, { ok: true }>, { handlers, orm, logger, security, guard }: Deps): Promise<Outcome> {
  const envelope = RequestEnvelope.safeParse(raw);
  if (!envelope.success) {
    const v = (raw as { v?: unknown } | null)?.v;
    return { kind: 'dead-letter', reason: v !== undefined && v !== MESSAGE_VERSION ? 'unsupported_version' : 'invalid_envelope' };
  }
  const { type, deadline, payload } = envelope.data;
  if (deadline < Date.now()) return { kind: 'drop', reason: 'deadline_passed' };
  let opened: unknown;
  try {
    opened = security.openRequestPayload({ ...envelope.data, payload });
  } catch {
    return { kind: 'dead-letter', reason: 'undecryptable' };
  }
  const parsed = REQUESTS[type].payload.safeParse(opened);
  if (!parsed.success) return { kind: 'dead-letter', reason: 'invalid_payload' };
  try {
    if (!(await guard.claim(checked.messageId, checked.timestamp))) return { kind: 'dead-letter', reason: 'replayed' };
    const handler = handlers[type] as (em: ReturnType<MikroORM['em']['fork']>, p: unknown) => Promise<unknown>;
    const result = await handler(orm.em.fork(), parsed.data);
    return { kind: 'reply', ok: true, result };
  } catch (err) {
    if (err instanceof HandlerError) return { kind: 'reply', ok: false, code: err.code, message: err.message };
    if (err instanceof SealError) return { kind: 'dead-letter', reason: 'unsealable_payload' };
    logger.error({ type: type as RequestType, err: safeDbError(err) }, 'request failed');
    return { kind: 'reply', ok: false, code: Code.UNAVAILABLE, message: 'the database is not available' };
  }
}

if (require.main === module) runProcess('db-processor', start);
