import type { SupervisedProcess } from '../../testkit/supervisor';
import type { Bench } from '../context';

export interface TwinPorts {
  api: number;
  worker: number;
  dbp: number;
}

/**
 * Another set of our three processes beside the main one (tracing on, another Temporal...): the DB
 * processor, a worker and an API on `ports`, `suffix` in their names and log files, registered in
 * ctx.procs so every exit path stops them. `ready()` waits for their /health/ready.
 */
export function startTwin(ctx: Bench, suffix: string, env: NodeJS.ProcessEnv, ports: TwinPorts): { procs: SupervisedProcess[]; ready(): Promise<void> } {
  const full: NodeJS.ProcessEnv = { ...env, API_PORT: String(ports.api), WORKER_HEALTH_PORT: String(ports.worker), DB_PROCESSOR_HEALTH_PORT: String(ports.dbp) };
  const procs = [
    ctx.startTsx(`db-processor-${suffix}`, 'db-processor/main.ts', full),
    ctx.startTsx(`worker-${suffix}`, 'workflows/worker.ts', full),
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
