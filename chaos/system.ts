import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { API_BASE_PATH } from './lib/api';
import { freePort, REPO_ROOT, tsxProcess, type SupervisedProcess } from '../testkit/supervisor';
import type { StackEnv } from '../testkit/stack';
import type { Watched } from './harness';


export type Role = 'api' | 'worker' | 'db-processor';

const SCRIPTS: Record<Role, string> = {
  api: 'api/main.ts',
  worker: 'workflows/worker.ts',
  'db-processor': 'db-processor/main.ts',
};

/** Settings the chaos processes run with (besides the stack's URLs). */
export const CHAOS_SETTINGS = {
  LOG_LEVEL: 'warn',
  RATE_LIMITS_ENABLED: 'false',
  BCRYPT_COST: '10',
  // A refused or lost code is replaced sooner than the default 60 s allows.
  RESEND_COOLDOWN_S: '10',
} as const;

/**
 * Our three services as separate OS processes on a task queue of their own, against the stack's
 * Postgres, Redis, Kafka, Temporal and MailDev. The baseline is one of each; a scenario may kill,
 * restart or add instances.
 */
export class ChaosSystem {
  readonly taskQueue = `chaos-${randomBytes(4).toString('hex')}`;
  readonly baseEnv: NodeJS.ProcessEnv;
  api!: SupervisedProcess;
  worker!: SupervisedProcess;
  dbProcessor!: SupervisedProcess;
  /** Extra instances a scenario started (second API, second DB processor). */
  extras: SupervisedProcess[] = [];
  private seq = 0;

  private constructor(readonly stack: StackEnv, readonly logDir: string, readonly apiPort: number) {
    this.baseEnv = {
      ...process.env,
      NODE_ENV: 'development',
      ...CHAOS_SETTINGS,
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      DATABASE_URL: stack.DATABASE_URL,
      REDIS_URL: stack.REDIS_URL,
      KAFKA_BROKERS: stack.KAFKA_BROKERS,
      TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
      SMTP_URL: stack.SMTP_URL,
    };
  }

  static async create(stack: StackEnv, logDir = path.join(REPO_ROOT, '.data', 'chaos', 'logs')): Promise<ChaosSystem> {
    const sys = new ChaosSystem(stack, logDir, Number(process.env.CHAOS_API_PORT) || (await freePort()));
    sys.api = await sys.make('api', sys.apiPort);
    sys.worker = await sys.make('worker');
    sys.dbProcessor = await sys.make('db-processor');
    return sys;
  }

  /** A process definition (not started). The API keeps its port across restarts. */
  async make(role: Role, apiPort?: number): Promise<SupervisedProcess> {
    const port = apiPort ?? (await freePort());
    const env: NodeJS.ProcessEnv = { ...this.baseEnv };
    let health: string;
    if (role === 'api') {
      env.API_PORT = String(port);
      health = `http://127.0.0.1:${port}/health/ready`;
    } else if (role === 'worker') {
      env.WORKER_HEALTH_PORT = String(port);
      health = `http://127.0.0.1:${port}/health/live`;
    } else {
      env.DB_PROCESSOR_HEALTH_PORT = String(port);
      health = `http://127.0.0.1:${port}/health/ready`;
    }
    const name = `${role}-${++this.seq}`;
    return tsxProcess(name, SCRIPTS[role], env, path.join(this.logDir, `${this.taskQueue}.${name}.log`), { healthUrl: health });
  }

  /** The same role again (same API port), started: what a supervisor would do after a crash. */
  async replace(role: 'api' | 'worker' | 'db-processor'): Promise<SupervisedProcess> {
    const key = role === 'api' ? 'api' : role === 'worker' ? 'worker' : 'dbProcessor';
    const next = await this.make(role, role === 'api' ? this.apiPort : undefined);
    this[key] = next;
    next.start();
    return next;
  }

  get baseline(): SupervisedProcess[] {
    return [this.api, this.worker, this.dbProcessor];
  }

  /** Starts what is not running and waits until every instance is ready. */
  async ensureUp(timeoutMs = 180_000): Promise<string[]> {
    const restarted: string[] = [];
    for (const role of ['db-processor', 'worker', 'api'] as const) {
      const p = role === 'api' ? this.api : role === 'worker' ? this.worker : this.dbProcessor;
      if (!p.running) {
        if (p.startedAt) restarted.push(`${p.name} had exited`);
        if (p.startedAt) await this.replace(role);
        else p.start();
      }
    }
    await Promise.all(this.baseline.map((p) => p.waitReady(timeoutMs)));
    return restarted;
  }

  /**
   * Restarts a baseline process that ended without us ending it (a crash, or a signal from
   * outside), as a supervisor would; returns what it found, for the report.
   */
  async superviseOnce(): Promise<string[]> {
    const found: string[] = [];
    for (const role of ['api', 'worker', 'db-processor'] as const) {
      const p = role === 'api' ? this.api : role === 'worker' ? this.worker : this.dbProcessor;
      if (p.startedAt && !p.running && !p.stoppedByUs) {
        found.push(`${p.name} ended by itself (${p.describeExit()}; log ${p.logFile}); restarted`);
        await this.replace(role);
      }
    }
    return found;
  }

  /**
   * Our long-lived processes by role (the current instance of each, so a replaced one counts) and
   * the extra instances running now; judged ready again after every fault.
   */
  watched(): Watched[] {
    const url = (p: SupervisedProcess) => (p.healthUrl ?? '').replace('/health/live', '/health/ready');
    return [
      { name: 'api', readyUrl: () => url(this.api) },
      { name: 'worker', readyUrl: () => url(this.worker) },
      { name: 'db-processor', readyUrl: () => url(this.dbProcessor) },
      ...this.extras.filter((p) => p.running).map((p) => ({ name: p.name, readyUrl: () => url(p) })),
    ];
  }

  /** Base URLs of the APIs clients use: the baseline one (even while it is down) and running extras. */
  apiBases(): string[] {
    const extra = this.extras.filter((p) => p.running && p.env.API_PORT).map((p) => `http://127.0.0.1:${p.env.API_PORT}${API_BASE_PATH}`);
    return [this.apiBase(), ...extra];
  }

  apiBase(): string {
    return `http://127.0.0.1:${this.apiPort}${API_BASE_PATH}`;
  }

  async stopExtras(): Promise<void> {
    await Promise.all(this.extras.map((p) => p.stop()));
    this.extras = [];
  }

  async close(): Promise<void> {
    await this.stopExtras();
    await Promise.all(this.baseline.map((p) => p.stop()));
  }
}
