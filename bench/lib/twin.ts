import { runToEnd, TSX, type SupervisedProcess } from '../../testkit/supervisor';
import type { Bench } from '../context';
import { WORKER_NODE_FLAGS } from '../../workflows/node-flags';

/** Every twin's Kafka topics and groups start with this (bench --clean deletes those topics). */
export const TWIN_TOPIC_PREFIX = 'bench-';

export interface TwinPorts {
  api: number;
  worker: number;
  dbp: number;
}

/**
 * Another set of our three processes beside the main one (tracing on, another Temporal...): the DB
 * processor, a worker and an API on `ports`, `suffix` in their names and log files, registered in
 * ctx.procs so every exit path stops them. `ready()` waits for their /health/ready.
 * Each twin has Kafka topics and consumer groups of its own (KAFKA_TOPIC_PREFIX `bench-<suffix>.`,
 * created here with their ACLs): its requests are handled by its own DB processor, never by the main
 * system's or another twin's, and its DB processor joining rebalances no other group.
 */
export async function startTwin(ctx: Bench, suffix: string, env: NodeJS.ProcessEnv, ports: TwinPorts): Promise<{ procs: SupervisedProcess[]; ready(): Promise<void> }> {
  const full: NodeJS.ProcessEnv = {
    ...env, KAFKA_TOPIC_PREFIX: `${TWIN_TOPIC_PREFIX}${suffix}.`, API_PORT: String(ports.api), WORKER_HEALTH_PORT: String(ports.worker), DB_PROCESSOR_HEALTH_PORT: String(ports.dbp),
  };
  const topics = await runToEnd(TSX, ['scripts/ensure-topics.ts'], full, 120_000);
  if (topics.code !== 0) throw new Error(`twin ${suffix}: its Kafka topics could not be created:\n${topics.out.slice(-1500)}`);
  const procs = [
    ctx.startTsx(`db-processor-${suffix}`, 'db-processor/main.ts', full),
    ctx.startTsx(`worker-${suffix}`, 'workflows/worker.ts', full, WORKER_NODE_FLAGS),
    ctx.startTsx(`api-${suffix}`, 'api/main.ts', full),
  ];
  ctx.procs.push(...procs);
  return { procs, ready: () => twinReady(procs, ports) };
}

export async function twinReady(procs: SupervisedProcess[], ports: TwinPorts, timeoutMs = 180_000): Promise<void> {
  const [dbp, worker, api] = procs;
  await Promise.all([
    dbp.waitReady(timeoutMs, `http://127.0.0.1:${ports.dbp}/health/ready`),
    worker.waitReady(timeoutMs, `http://127.0.0.1:${ports.worker}/health/ready`),
    api.waitReady(timeoutMs, `http://127.0.0.1:${ports.api}/health/ready`),
  ]);
}
