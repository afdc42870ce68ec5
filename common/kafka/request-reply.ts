import { randomUUID } from 'node:crypto';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from '../logger';
import { SupervisedConsumer, supervisedConsumerConfig } from './supervised-consumer';
import {
  MESSAGE_VERSION,
  ReplyEnvelope,
  REQUESTS,
  type RequestPayload,
  type RequestResult,
  type RequestType,
} from './messages';
import { TOPICS } from './topics';

/** The DB processor answered with an error (for example EMAIL_TAKEN or UNAVAILABLE). */
export class RemoteError extends Error {
  override name = 'RemoteError';
  constructor(readonly code: string, message: string) {
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
 * latest offset, so a restart never replays old replies. Several instances can run at once.
 */
export class KafkaRequester {
  readonly instanceId: string;
  private readonly producer: Producer;
  private readonly consumer: SupervisedConsumer;
  private readonly pending = new Map<string, Pending>();
  private ready = false;

  constructor(
    kafka: Kafka,
    private readonly opts: { role: string; timeoutMs: number; logger: Logger; rejoinBoundMs?: number },
  ) {
    this.instanceId = `${opts.role}.${randomUUID()}`;
    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    const consumerConfig = supervisedConsumerConfig({
      groupId: `auth-replies.${this.instanceId}`,
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
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        let reply: ReplyEnvelope;
        try {
          reply = ReplyEnvelope.parse(JSON.parse(message.value.toString('utf8')));
        } catch {
          this.opts.logger.warn({ offset: message.offset }, 'malformed reply ignored');
          return;
        }
        if (reply.replyTo !== this.instanceId) return;
        const waiter = this.pending.get(reply.correlationId);
        if (!waiter) return;
        this.pending.delete(reply.correlationId);
        clearTimeout(waiter.timer);
        if (reply.ok) waiter.resolve(reply.result);
        else waiter.reject(new RemoteError(reply.error.code, reply.error.message));
      },
    });
    await this.waitUntilReceiving();
    this.ready = true;
  }

  /**
   * A new group starts at the latest offset only once its first fetch resolved it; a reply sent
   * before that would be missed. Sending ourselves a probe until it comes back closes that gap.
   */
  private async waitUntilReceiving(): Promise<void> {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const correlationId = randomUUID();
      const arrived = new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(correlationId);
          reject(new RequestTimeoutError('probe'));
        }, 1000);
        this.pending.set(correlationId, { resolve, reject, timer });
      });
      await this.producer.send({
        topic: TOPICS.dbReplies,
        messages: [{ key: this.instanceId, value: JSON.stringify({ v: MESSAGE_VERSION, correlationId, replyTo: this.instanceId, ok: true, result: null }) }],
      });
      try {
        await arrived;
        return;
      } catch {
        // not assigned yet; probe again
      }
    }
    throw new RequestTimeoutError('reply consumer never received its own probe within 60 s');
  }

  async request<T extends RequestType>(
    type: T,
    payload: RequestPayload<T>,
    opts: { key: string; timeoutMs?: number },
  ): Promise<RequestResult<T>> {
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const correlationId = randomUUID();
    const deadline = Date.now() + timeoutMs;
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new RequestTimeoutError(`no reply to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
    });
    const envelope = { v: MESSAGE_VERSION, type, correlationId, replyTo: this.instanceId, deadline, payload };
    // A send that kafkajs keeps retrying must not outlive the deadline: the timer above rejects first.
    this.producer
      .send({ topic: TOPICS.dbRequests, messages: [{ key: opts.key, value: JSON.stringify(envelope) }] })
      .catch((err: Error) => {
        const waiter = this.pending.get(correlationId);
        if (!waiter) return;
        this.pending.delete(correlationId);
        clearTimeout(waiter.timer);
        waiter.reject(new RequestTimeoutError(`could not send ${type}: ${err.message}`));
      });
    const result = await reply;
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
