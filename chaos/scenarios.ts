import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import path from 'node:path';
import { stackCommand, type StackEnv } from '../testkit/stack';
import type { ChaosSystem } from './system';
import { sleep, waitUntil } from '../testkit/wait';
import type { Watched } from './harness';

export interface ScenarioCtx {
  sys: ChaosSystem;
  stack: StackEnv;
  quick: boolean;
  log: (msg: string) => void;
  /** Long-lived processes not started by the run (an `npm start` on the same stack), judged like ours. */
  watch?: Watched[];
  /** The run's seeded source of fault timings (Math.random when not given). */
  random?: () => number;
}

export interface Scenario {
  name: string;
  /** One line for the report. */
  fault: string;
  /** Whose requests are in flight: N signups (the default) or N accounts' password resets and email changes. */
  workload?: 'signup' | 'account';
  /** Puts the fault in place; resolves once it is (the process is dead, the port closed...). */
  inject(ctx: ScenarioCtx): Promise<void>;
  /** How long the fault lasts before recover() is called. */
  holdMs(quick: boolean): number;
  /** Lifts the fault (restarts what was killed); resolves once the restart was done. */
  recover(ctx: ScenarioCtx): Promise<void>;
  /** After the checks: undo what the scenario added. */
  cleanup?(ctx: ScenarioCtx): Promise<void>;
}

function hostPort(address: string, defPort: number): { host: string; port: number } {
  const rest = address.replace(/^[a-z]+:\/\//, '').split('/')[0].split('@').pop()!.split(',')[0];
  const [host, port] = rest.split(':');
  return { host, port: Number(port) || defPort };
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

/** `stack.sh restart-<svc>` in the background; inject() returns once the service's port is closed. */
function restartScenario(name: string, svc: 'kafka' | 'temporal', fault: string): Scenario {
  let running: Promise<string> | undefined;
  return {
    name,
    fault,
    async inject(ctx) {
      const { host, port } = svc === 'kafka' ? hostPort(ctx.stack.KAFKA_BROKERS, 9092) : hostPort(ctx.stack.TEMPORAL_ADDRESS, 7233);
      running = stackCommand(ctx.stack, [`restart-${svc}`], 240_000);
      running.catch(() => undefined);
      const down = await waitUntil(async () => !(await tcpOpen(host, port)), 60_000, 100);
      if (!down) ctx.log(`${svc} port ${host}:${port} never closed during the restart`);
    },
    holdMs: () => 0,
    async recover(ctx) {
      const out = await running!;
      ctx.log(out.trim().split('\n').slice(-3).join(' | '));
    },
  };
}

/**
 * The service stopped for a while (SIGTERM to the process group in its pid file, as
 * `scripts/stack.sh down` does), then `scripts/stack.sh up` starts it again: an outage longer than
 * the clients' own retries.
 */
function outageScenario(name: string, svc: 'kafka' | 'temporal', fault: string, hold: (quick: boolean) => number): Scenario {
  return {
    name,
    fault,
    async inject(ctx) {
      const { host, port } = svc === 'kafka' ? hostPort(ctx.stack.KAFKA_BROKERS, 9092) : hostPort(ctx.stack.TEMPORAL_ADDRESS, 7233);
      const pid = Number(readFileSync(path.join(ctx.stack.dataDir, 'run', `${svc}.pid`), 'utf8').trim());
      if (!pid) throw new Error(`no pid in .data/run/${svc}.pid`);
      try {
        process.kill(-pid, 'SIGTERM'); // started by stack.sh with setsid: the process group
      } catch {
        process.kill(pid, 'SIGTERM');
      }
      if (!(await waitUntil(async () => !(await tcpOpen(host, port)), 60_000, 100))) throw new Error(`${svc} still answers 60 s after SIGTERM`);
      ctx.log(`${svc} (pid ${pid}) stopped`);
    },
    holdMs: hold,
    async recover(ctx) {
      await stackCommand(ctx.stack, ['up'], 240_000);
      ctx.log(`${svc} started again (scripts/stack.sh up)`);
    },
  };
}

type Role = 'api' | 'worker' | 'db-processor';
const pick = (sys: ChaosSystem, role: Role) => (role === 'api' ? sys.api : role === 'worker' ? sys.worker : sys.dbProcessor);

async function kill9(ctx: ScenarioCtx, role: Role): Promise<void> {
  const p = pick(ctx.sys, role);
  p.kill9();
  if (!(await p.exited(10_000))) throw new Error(`${p.name} survived kill -9`);
  ctx.log(`killed ${p.name} (pid ${p.pid}) with SIGKILL`);
}

/** What a supervisor does after a crash: the same role again (same API port), waited for until ready. */
async function restart(ctx: ScenarioCtx, role: Role): Promise<void> {
  const next = await ctx.sys.replace(role);
  ctx.log(`started ${next.name} (pid ${next.pid})`);
  await next.waitReady(180_000);
  ctx.log(`${next.name} ready after ${((Date.now() - next.startedAt) / 1000).toFixed(1)} s`);
}

/** kill -9 of one of our processes; a new one is started after the hold (same API port). */
function killScenario(name: string, role: Role, fault: string, workload?: Scenario['workload']): Scenario {
  return {
    name,
    fault,
    workload,
    inject: (ctx) => kill9(ctx, role),
    holdMs: () => 3_000,
    recover: (ctx) => restart(ctx, role),
  };
}

/**
 * Both processes of an account change killed at different moments: the DB processor first (and
 * restarted at once, as a supervisor would), then the worker 1-5 s later (seeded), while the
 * activities in flight retry against the DB processor that is coming back; the worker 3 s after that.
 */
function doubleKillScenario(name: string, workload?: Scenario['workload']): Scenario {
  let dbProcessorBack: Promise<void> | undefined;
  return {
    name,
    fault: 'kill -9 of the DB processor (restarted at once), then of the worker 1-5 s later (seeded), new worker 3 s after',
    workload,
    async inject(ctx) {
      await kill9(ctx, 'db-processor');
      dbProcessorBack = restart(ctx, 'db-processor');
      dbProcessorBack.catch(() => undefined);
      await sleep(1_000 + Math.round((ctx.random ?? Math.random)() * 4_000));
      await kill9(ctx, 'worker');
    },
    holdMs: () => 3_000,
    async recover(ctx) {
      await Promise.all([dbProcessorBack, restart(ctx, 'worker')]);
    },
  };
}

export const SCENARIOS: Scenario[] = [
  killScenario('worker-kill', 'worker', 'kill -9 of the Temporal worker, new worker 3 s later'),
  {
    name: 'smtp-outage',
    fault: 'MailDev (SMTP) stopped for 60 s (--quick: 20 s)',
    async inject(ctx) {
      await stackCommand(ctx.stack, ['stop-smtp'], 60_000);
      ctx.log('SMTP stopped');
    },
    holdMs: (quick) => (quick ? 20_000 : 60_000),
    async recover(ctx) {
      await stackCommand(ctx.stack, ['start-smtp'], 90_000);
      ctx.log('SMTP started');
    },
  },
  killScenario('db-processor-kill', 'db-processor', 'kill -9 of the DB processor, new one 3 s later'),
  restartScenario('kafka-restart', 'kafka', 'Kafka broker stopped and started (scripts/stack.sh restart-kafka)'),
  restartScenario('temporal-restart', 'temporal', 'Temporal dev server stopped and started, SQLite state kept (scripts/stack.sh restart-temporal)'),
  killScenario('api-kill', 'api', 'kill -9 of the API, new one on the same port 3 s later'),
  outageScenario('kafka-outage', 'kafka', 'Kafka broker down for 30 s (--quick: 10 s), then started again', (quick) => (quick ? 10_000 : 30_000)),
  outageScenario('temporal-outage', 'temporal', 'Temporal dev server down for 30 s (--quick: 10 s), then started again', (quick) => (quick ? 10_000 : 30_000)),
  {
    name: 'scale-out',
    fault: 'a second API and a second DB processor join; clients use both APIs',
    async inject(ctx) {
      const api2 = await ctx.sys.make('api');
      const dbp2 = await ctx.sys.make('db-processor');
      ctx.sys.extras.push(api2, dbp2);
      api2.start();
      dbp2.start();
      await Promise.all([api2.waitReady(180_000), dbp2.waitReady(180_000)]);
      ctx.log(`second API (${api2.name}, port ${api2.env.API_PORT}) and DB processor (${dbp2.name}) ready`);
    },
    holdMs: () => 0,
    async recover() {
      // nothing to lift: both instances keep serving until cleanup
    },
    async cleanup(ctx) {
      await ctx.sys.stopExtras();
    },
  },
  killScenario('account-worker-kill', 'worker', 'kill -9 of the Temporal worker during password resets and email changes, new worker 3 s later', 'account'),
  killScenario('account-db-processor-kill', 'db-processor', 'kill -9 of the DB processor during password resets and email changes, new one 3 s later', 'account'),
  doubleKillScenario('account-double-kill', 'account'),
];

/** The fastest scenarios that disturb only our own processes, not the shared stack (they also run in npm test). */
export const FAST_SCENARIOS = ['worker-kill', 'api-kill', 'db-processor-kill', 'account-db-processor-kill'];
