import { Connection, isGrpcServiceError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { portFree, runToEnd, TSX } from '../testkit/supervisor';
import { sleep } from '../testkit/wait';
import type { Bench } from './context';
import { startStallingSmtp } from './lib/stall-smtp';
import { startObserved, waitObserved } from './scenarios/observability';
import type { Sut } from './systems';
import { WORKER_NODE_FLAGS } from '../workflows/node-flags';

/** The processes of a run: the stack, ours and the peers (each with a twin on a stalling SMTP server), and cleanup. */

export async function ensureStack(ctx: Bench): Promise<void> {
  const status = await runToEnd('bash', ['scripts/stack.sh', 'status'], process.env, 60_000);
  if (status.code === 0) {
    ctx.log('stack: all infrastructure answers');
    return;
  }
  ctx.log('stack: starting it (bash scripts/stack.sh up)');
  const up = await runToEnd('bash', ['scripts/stack.sh', 'up'], process.env, 15 * 60_000);
  if (up.code !== 0) throw new Error(`scripts/stack.sh up failed:\n${up.out.slice(-3000)}`);
}

/** What every process of a run gets: the run's bcrypt cost, rate limits off, quiet logs, no fixed metrics ports. */
export const benchEnv = (ctx: Bench): NodeJS.ProcessEnv => ({
  ...process.env, BCRYPT_COST: String(ctx.cost), LOG_LEVEL: 'warn', RATE_LIMITS_ENABLED: 'false', API_METRICS_PORT: '0', WORKER_TEMPORAL_METRICS_PORT: '0',
});

/** Our three processes' settings (the stalled twins and the other topology's change ports, queue or Temporal). */
export const oursEnv = (ctx: Bench): NodeJS.ProcessEnv => ({
  ...benchEnv(ctx), API_PORT: String(ctx.ports.api), WORKER_HEALTH_PORT: String(ctx.ports.worker), DB_PROCESSOR_HEALTH_PORT: String(ctx.ports.dbp), TEMPORAL_TASK_QUEUE: ctx.queue,
});

export async function startAll(ctx: Bench, suts: Sut[]): Promise<Record<string, number>> {
  for (const [name, port] of Object.entries(ctx.ports)) {
    if (ctx.noPeers && /direct|ba/.test(name)) continue;
    if (ctx.noTopology && /^srv/.test(name)) continue;
    if (!(await portFree(port))) throw new Error(`port ${port} (${name}) is in use: stop what holds it or set BENCH_PORT_BASE`);
  }
  ctx.stall = await startStallingSmtp();
  const base = benchEnv(ctx);
  const ours = oursEnv(ctx);
  const stalledSmtp = `smtp://127.0.0.1:${ctx.stall.port}`;
  const profDir = path.join(ctx.tmp, 'prof');
  if (ctx.cpuProf) mkdirSync(profDir, { recursive: true });

  const migrate = await runToEnd(TSX, ['scripts/migrate.ts'], ours, 120_000);
  if (migrate.code !== 0) throw new Error(`migrations failed:\n${migrate.out}`);

  const started = Date.now();
  const dbp = ctx.startTsx('db-processor', 'db-processor/main.ts', ours);
  const worker = ctx.startTsx('worker', 'workflows/worker.ts', ours, WORKER_NODE_FLAGS);
  const api = ctx.startTsx('api', 'api/main.ts', ours, ctx.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
  const workerS = ctx.startTsx('worker-stalled', 'workflows/worker.ts', { ...ours, WORKER_HEALTH_PORT: String(ctx.ports.workerStalled), SMTP_URL: stalledSmtp, TEMPORAL_TASK_QUEUE: ctx.queueStalled }, WORKER_NODE_FLAGS);
  const apiS = ctx.startTsx('api-stalled', 'api/main.ts', { ...ours, API_PORT: String(ctx.ports.apiStalled), TEMPORAL_TASK_QUEUE: ctx.queueStalled });
  ctx.procs.push(dbp, worker, api, workerS, apiS);
  ctx.stalledProcs.push(workerS, apiS);
  ctx.observed = await startObserved(ctx, ours);

  const peerEnv = { ...base, DATABASE_URL: ctx.benchDb, REDIS_URL: ctx.config.REDIS_URL, SMTP_URL: ctx.config.SMTP_URL };
  const peerReady: Promise<unknown>[] = [];
  if (!ctx.noPeers) {
    const startPeer = async (name: string, script: string, port: number, stalledPort: number) => {
      const p = ctx.startTsx(name, script, { ...peerEnv, PORT: String(port), RESET_DB: '1' });
      ctx.procs.push(p);
      await p.waitReady(120_000, `http://127.0.0.1:${port}/health/ready`);
      // The stalled twin starts after the first one made (and emptied) the tables.
      const s = ctx.startTsx(`${name}-stalled`, script, { ...peerEnv, PORT: String(stalledPort), SMTP_URL: stalledSmtp });
      ctx.procs.push(s);
      ctx.stalledProcs.push(s);
      await s.waitReady(120_000, `http://127.0.0.1:${stalledPort}/health/ready`);
    };
    peerReady.push(startPeer('direct', 'bench/baselines/direct/server.ts', ctx.ports.direct, ctx.ports.directStalled));
    peerReady.push(startPeer('better-auth', 'bench/baselines/better-auth/server.ts', ctx.ports.ba, ctx.ports.baStalled));
  }

  const timeout = 180_000;
  // The stalled worker's SMTP check fails by design: every other dependency must be up.
  const upExceptSmtp = (s: number, b: string) => {
    try {
      const deps = (JSON.parse(b) as { dependencies?: Record<string, string> }).dependencies ?? {};
      return Object.entries(deps).every(([k, v]) => k === 'smtp' || v === 'up') && Object.keys(deps).length > 0 && (s === 200 || s === 503);
    } catch {
      return false;
    }
  };
  await Promise.all([
    dbp.waitReady(timeout, `http://127.0.0.1:${ctx.ports.dbp}/health/ready`),
    worker.waitReady(timeout, `http://127.0.0.1:${ctx.ports.worker}/health/ready`),
    api.waitReady(timeout, `http://127.0.0.1:${ctx.ports.api}/health/ready`),
    workerS.waitReady(timeout, `http://127.0.0.1:${ctx.ports.workerStalled}/health/ready`, upExceptSmtp),
    apiS.waitReady(timeout, `http://127.0.0.1:${ctx.ports.apiStalled}/health/ready`),
    waitObserved(ctx, ctx.observed),
    ...peerReady,
  ]);
  void suts;
  return { startup_s: (Date.now() - started) / 1000 };
}

export async function stopAll(ctx: Bench): Promise<void> {
  await Promise.all(ctx.procs.map((p) => p.stop()));
  await ctx.stall?.close();
}

/**
 * Ends the signups this run left open (they wait 24 h for a code) on the given task queues;
 * `waitMs`: how long to wait for a batch operation already running (startBatchTermination).
 */
export async function terminateBenchWorkflows(
  ctx: { run: string; config: Pick<Bench['config'], 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'> },
  queues: string[],
  address = ctx.config.TEMPORAL_ADDRESS,
  waitMs?: number,
): Promise<string> {
  const connection = await Connection.connect({ address });
  try {
    const query = `(${queues.map((q) => `TaskQueue = '${q}'`).join(' OR ')}) AND ExecutionStatus = 'Running'`;
    await startBatchTermination(connection, ctx.config.TEMPORAL_NAMESPACE, `bench-cleanup-${ctx.run}`, 'benchmark run finished', query, waitMs);
    return `batch termination of open workflows on ${queues.join(', ')} started`;
  } finally {
    await connection.close();
  }
}

/** gRPC status RESOURCE_EXHAUSTED. */
const RESOURCE_EXHAUSTED = 8;

/**
 * Starts a batch termination of the workflows `query` finds. The server runs one batch operation
 * per namespace at a time (its default) and refuses another with RESOURCE_EXHAUSTED while one runs,
 * as the stalled scenario's or a run's own cleanup does for minutes after thousands of signups: this
 * waits for it, up to `waitMs`.
 */
export async function startBatchTermination(connection: Connection, namespace: string, jobPrefix: string, reason: string, query: string, waitMs = 180_000): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      await connection.workflowService.startBatchOperation({ namespace, jobId: `${jobPrefix}-${randomUUID()}`, reason, visibilityQuery: query, terminationOperation: {} });
      return;
    } catch (err) {
      if (!isGrpcServiceError(err) || err.code !== RESOURCE_EXHAUSTED || Date.now() > until) throw err;
      await sleep(1000);
    }
  }
}

/**
 * Open workflows on the Temporal server at the start of a run. The dev server keeps every signup of
 * earlier runs and tests open for its 24 h window, with their timers; one run (db9ec34) started
 * beside 4,000 left by an ad-hoc harness, so the results say how many there were.
 */
export async function openWorkflows(ctx: Bench, address = ctx.config.TEMPORAL_ADDRESS): Promise<number | null> {
  try {
    const connection = await Connection.connect({ address });
    try {
      const r = await connection.workflowService.countWorkflowExecutions({ namespace: ctx.config.TEMPORAL_NAMESPACE, query: `ExecutionStatus = 'Running'` });
      return Number(r.count ?? 0);
    } finally {
      await connection.close();
    }
  } catch (err) {
    ctx.log(`could not count the open workflows: ${(err as Error).message}`);
    return null;
  }
}

/**
 * After the stalled scenario: its twins stop, and our stalled signups (retrying SMTP with back-off
 * for hours) are terminated, so their retries do not load Temporal during the later scenarios.
 */
export async function endStalled(ctx: Bench): Promise<void> {
  await Promise.all(ctx.stalledProcs.map((p) => p.stop(1000)));
  try {
    // In the middle of the run: a short wait, not the minutes an earlier run's cleanup can take.
    await terminateBenchWorkflows(ctx, [ctx.queueStalled], undefined, 20_000);
  } catch (err) {
    ctx.log(`could not terminate the stalled workflows: ${(err as Error).message}`);
  }
}

