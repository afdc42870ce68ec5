import { randomUUID } from 'node:crypto';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Partitioners, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import { Code, type ReplyErrorCode } from '../errors';
import type { Logger } from '../logger';
import { metrics } from '../metrics';
import { tracer } from '../tracing';
import { traceContextOf, type EnvelopeSecurity } from './envelope-security';
import { joinAtHighWatermarks } from './reply-offsets';
import { SupervisedConsumer, supervisedConsumerConfig } from './supervised-consumer';
import {
  ReplyEnvelope,
  REQUESTS,
  type RequestPayload,
  type RequestResult,
  type RequestType,
} from './messages';
import { REPLY_GROUP_PREFIX } from './identity';
import { requestTopic, TOPICS } from './topics';

/** The DB processor answered with an error, or with a reply that does not parse (INVALID_REPLY). */
export class RemoteError extends Error {
  override name = 'RemoteError';
  constructor(readonly code: ReplyErrorCode | typeof Code.INVALID_REPLY, message: string) {
    super(message);
  }
}

/** No reply before the request's deadline: Kafka or the DB processor is down or slow. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply over Kafka. Each instance reads the shared replies topic in a consumer group of
 * its own (so every instance sees every reply and keeps only those addressed to it) starting at the
 * offsets the topic had when it started, so a restart never replays old replies. Several instances
 * can run at once. Requests are encrypted and MACed; replies without a valid MAC are ignored.
 * `opts.key` of a request is its business key (the email): only its keyed hash reaches the topic.
 */
export class KafkaRequester {
  readonly instanceId: string;
  private readonly producer: Producer;
  private readonly consumer: SupervisedConsumer;
  private readonly groupId: string;
  private readonly pending = new Map<string, Pending>();
  private ready = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: { role: string; timeoutMs: number; logger: Logger; security: EnvelopeSecurity; rejoinBoundMs?: number },
  ) {
    this.instanceId = `${opts.role}.${randomUUID()}`;
    this.groupId = `${REPLY_GROUP_PREFIX}${this.instanceId}`;
    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    const consumerConfig = supervisedConsumerConfig({
      groupId: this.groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    // Restarted after any crash; a restart resumes from the group's committed offset.
    this.consumer = new SupervisedConsumer({
      name: 'replies',
      create: () => kafka.consumer(consumerConfig),
      logger: opts.logger,
      rejoinBoundMs: opts.rejoinBoundMs ?? 60_000,
      sessionTimeoutMs: 10_000,
    });
  }

  /** Started, and the reply consumer is in its group right now. */
  get isReady(): boolean {
    return this.ready && this.consumer.isReady;
  }

  /** False once the reply consumer has been out of its group longer than the bound: restart the process. */
  get isLive(): boolean {
    return this.consumer.isLive;
  }

  async start(): Promise<void> {
    await Promise.all([this.producer.connect(), this.consumer.connect()]);
    await this.consumer.subscribe({ topic: TOPICS.dbReplies, fromBeginning: false });
    await joinAtHighWatermarks(this.kafka, () => this.consumer.isReady, this.groupId, TOPICS.dbReplies, () =>
      this.consumer.run({ eachMessage: async ({ message }) => this.onReply(message) }),
    );
    this.ready = true;
  }

  private onReply(message: KafkaMessage): void {
    if (!message.value) return;
    const checked = this.opts.security.verify('reply', TOPICS.dbReplies, message);
    if (!checked.ok) {
      // The requester may not write any dead-letter topic; a forged reply is logged and ignored.
      this.opts.logger.warn({ offset: message.offset, reason: checked.reason }, 'unauthenticated reply ignored');
      return;
    }
    let reply: ReplyEnvelope;
    try {
      reply = ReplyEnvelope.parse(JSON.parse(message.value.toString('utf8')));
    } catch {
      this.opts.logger.warn({ offset: message.offset }, 'malformed reply ignored');
      return;
    }
    if (reply.replyTo !== this.instanceId) return;
    // A correlation id is answered once: a replayed reply finds no waiter.
    const waiter = this.pending.get(reply.correlationId);
    if (!waiter) return;
    this.pending.delete(reply.correlationId);
    clearTimeout(waiter.timer);
    // The DB processor's side of the trace comes back in the reply's authenticated trace headers.
    if (checked.trace) {
      tracer()
        .startSpan(`${TOPICS.dbReplies} receive`, { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': TOPICS.dbReplies } }, traceContextOf(checked))
        .end();
    }
    if (!reply.ok) {
      waiter.reject(new RemoteError(reply.error.code, reply.error.message));
      return;
    }
    try {
      waiter.resolve(this.opts.security.openReplyResult(reply));
    } catch (err) {
      this.opts.logger.warn({ offset: message.offset, reason: 'undecryptable' }, 'reply result does not open');
      waiter.reject(new RemoteError(Code.INVALID_REPLY, (err as Error).message));
    }
  }

  /** One request and its reply, as one span whose context the request carries (authenticated). */
  async request<T extends RequestType>(
    type: T,
    payload: RequestPayload<T>,
    opts: { key: string; timeoutMs?: number },
  ): Promise<RequestResult<T>> {
    return tracer().startActiveSpan(`kafka request ${type}`, { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'kafka', 'cfd.request.type': type } }, async (span) => {
      try {
        return await this.requestAndWait(type, payload, opts);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private async requestAndWait<T extends RequestType>(
    type: T,
    payload: RequestPayload<T>,
    opts: { key: string; timeoutMs?: number },
  ): Promise<RequestResult<T>> {
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const correlationId = randomUUID();
    const end = metrics.kafkaRequestDuration.startTimer({ type });
    const deadline = Date.now() + timeoutMs;
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new RequestTimeoutError(`no reply to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
    });
    const message = this.opts.security.requestMessage({ type, correlationId, replyTo: this.instanceId, deadline }, payload, opts.key);
    // A send that kafkajs keeps retrying must not outlive the deadline: the timer above rejects first.
    this.producer
      .send({ topic: requestTopic(type), messages: [message] })
      .catch((err: Error) => {
        const waiter = this.pending.get(correlationId);
        if (!waiter) return;
        this.pending.delete(correlationId);
        clearTimeout(waiter.timer);
        waiter.reject(new RequestTimeoutError(`could not send ${type}: ${err.message}`));
      });
    let result: unknown;
    try {
      result = await reply;
    } catch (err) {
      end({ outcome: err instanceof RemoteError ? 'remote_error' : 'timeout' });
      throw err;
    }
    end({ outcome: 'ok' });
    return REQUESTS[type].result.parse(result) as RequestResult<T>;
  }

  async close(): Promise<void> {
    this.ready = false;
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new RequestTimeoutError('requester closed'));
      this.pending.delete(id);
    }
    await Promise.allSettled([this.consumer.disconnect(), this.producer.disconnect()]);
  }
}
