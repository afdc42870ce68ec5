import type { Consumer, ConsumerConfig, ConsumerRunConfig, ConsumerSubscribeTopic, ConsumerSubscribeTopics } from 'kafkajs';
import type { Logger } from '../logger';

export interface SupervisedConsumerOptions {
  /** Name in log lines and health answers ("db-requests", "replies"). */
  name: string;
  /** Builds a fresh kafkajs consumer (same group id every time); called at start and at each restart. */
  create: () => Consumer;
  logger: Logger;
  /** Not back in the group this long (ms) after leaving it: liveness fails so a supervisor restarts the process. */
  rejoinBoundMs: number;
  /** Heartbeats older than this (ms) mean the consumer is no longer in the group (kafkajs' session timeout). */
  sessionTimeoutMs: number;
  /** First restart delay and cap of the doubling backoff (ms). */
  backoff?: { initialMs: number; maxMs: number };
}

/** The consumer settings every supervised consumer shares: kafkajs never restarts it by itself. */
export function supervisedConsumerConfig(config: ConsumerConfig): ConsumerConfig {
  // kafkajs restarts a consumer only after a retriable crash; after a non-retriable one (e.g.
  // "Failed to find group coordinator" right after a broker restart) it stays down for good.
  // Every restart is ours instead, whatever the error.
  return { ...config, retry: { ...config.retry, restartOnFailure: async () => false } };
}

/**
 * A Kafka consumer that heals: after any crash, retriable or not, it is rebuilt with a fresh
 * kafkajs consumer (same group) after a capped, doubling delay, with one log line per restart.
 * `isReady` is true only while the consumer is in its group and heartbeating; `isLive` turns false
 * when it has been out of the group longer than `rejoinBoundMs`, so the process's liveness fails and
 * a supervisor (npm start, docker, Kubernetes) restarts the whole process.
 */
export class SupervisedConsumer {
  private consumer?: Consumer;
  private joined = false;
  private lastBeat = 0;
  /** Since when the consumer has not been in its group (0: it is in the group). */
  private outSince = Date.now();
  private restarts = 0;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private subscription?: ConsumerSubscribeTopics | ConsumerSubscribeTopic;
  private runConfig?: ConsumerRunConfig;

  constructor(private readonly opts: SupervisedConsumerOptions) {
    this.initialMs = opts.backoff?.initialMs ?? 500;
    this.maxMs = opts.backoff?.maxMs ?? 15_000;
  }

  /** In the group and heartbeating. */
  get isReady(): boolean {
    return this.joined && Date.now() - this.lastBeat < this.opts.sessionTimeoutMs;
  }

  /** False once the consumer has been out of its group for longer than the bound. */
  get isLive(): boolean {
    if (this.closed || this.isReady) return true;
    const since = this.outSince || this.lastBeat;
    return Date.now() - since <= this.opts.rejoinBoundMs;
  }

  /** How many times the consumer was rebuilt after a crash. */
  get restartCount(): number {
    return this.restarts;
  }

  /** Kept for the kafkajs call sequence: the connection is made by run(), and again at each restart. */
  async connect(): Promise<void> {}

  /** Recorded, and applied to every consumer built from now on. */
  async subscribe(subscription: ConsumerSubscribeTopics | ConsumerSubscribeTopic): Promise<void> {
    this.subscription = subscription;
  }

  /** First start: rejects when the consumer cannot connect, subscribe and join (the process then exits). */
  async run(config: ConsumerRunConfig): Promise<void> {
    if (!this.subscription) throw new Error('subscribe() before run()');
    this.runConfig = config;
    await this.launch();
  }

  private async launch(): Promise<void> {
    const consumer = this.opts.create();
    this.consumer = consumer;
    const mine = () => this.consumer === consumer && !this.closed;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!mine()) return;
      this.joined = true;
      this.lastBeat = Date.now();
      this.outSince = 0;
      this.attempt = 0;
    });
    consumer.on(consumer.events.HEARTBEAT, () => {
      if (mine()) this.lastBeat = Date.now();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!mine()) return;
      this.leftGroup();
      this.scheduleRestart(payload.error);
    });
    for (const ev of [consumer.events.STOP, consumer.events.DISCONNECT] as const) {
      consumer.on(ev, () => {
        if (mine()) this.leftGroup();
      });
    }
    try {
      await consumer.connect();
      await consumer.subscribe(this.subscription!);
      await consumer.run(this.runConfig);
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private leftGroup(): void {
    if (this.joined || !this.outSince) this.outSince = Date.now();
    this.joined = false;
  }

  private scheduleRestart(cause: Error): void {
    if (this.closed || this.timer) return;
    const delayMs = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt += 1;
    this.restarts += 1;
    this.opts.logger.warn(
      { consumer: this.opts.name, restart: this.restarts, delayMs, err: { name: cause?.name, message: cause?.message } },
      'kafka consumer crashed; restarting it',
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      const old = this.consumer;
      void (async () => {
        await old?.disconnect().catch(() => undefined);
        if (this.closed) return;
        try {
          await this.launch();
        } catch (err) {
          this.scheduleRestart(err as Error);
        }
      })();
    }, delayMs);
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.joined = false;
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
