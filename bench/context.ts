import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../common/config';
import { MailDev } from '../testkit/maildev';
import { REPO_ROOT, tsxProcess, type SupervisedProcess } from '../testkit/supervisor';
import type { ObservabilityOverhead, startObserved } from './scenarios/observability';
import type { ScenarioResult, System } from './lib/load';
import type { startStallingSmtp } from './lib/stall-smtp';
import type { TopologyComparison } from './scenarios/temporal-topology';
import type { RssByProcess } from './scenarios/memory';

/** What `npm run bench` was asked for on its command line. */
export interface BenchOptions {
  quick: boolean;
  cpuProf: boolean;
  noPeers: boolean;
  /** --no-topology: leave out our system on the production-topology Temporal (scenarios/temporal-topology.ts). */
  noTopology: boolean;
  /** --clean: remove what earlier runs left behind (bench/clean.ts) and nothing else. */
  clean: boolean;
  /** --soak: ours alone under steady load, RSS sampled (scenarios/memory.ts); SOAK_MINUTES (10). */
  soak: boolean;
  outName: string;
}

export function parseOptions(args: readonly string[]): BenchOptions {
  const quick = args.includes('--quick');
  const outIdx = args.indexOf('--out');
  const soak = args.includes('--soak');
  return {
    quick,
    cpuProf: args.includes('--cpu-prof'),
    noPeers: args.includes('--no-peers') || soak,
    noTopology: args.includes('--no-topology') || soak,
    clean: args.includes('--clean'),
    soak,
    outName: outIdx >= 0 ? args[outIdx + 1] : soak ? 'soak' : quick ? 'quick' : 'latest',
  };
}

export interface Plan {
  /** Hard bound on the whole run, cleanup included; scenarios stop starting `reserveS` before it. */
  hardS: number;
  reserveS: number;
  concurrency: [number, number];
  c1S: number;
  cNS: number;
  stallTimeoutS: number;
  stallS: number;
  /** signup_to_verified flows at each concurrency (0: not run). */
  s2v: [number, number];
  verify: [number, number];
  signinC1S: number;
  signinCN: number;
  /** Time box of the amount-based (bcrypt-bound) runs at the higher concurrency. */
  boxS: number;
  logout: [number, number];
  throughputS: number;
  peerThroughputS: number;
  drainMaxS: number;
  /** The sustained run of each Temporal topology (0: not run). */
  topologySustainedS: number;
  floor: { hashes: number; compares: number; parallelS: number };
}

/** Each setting of the plan side by side: [quick run (< 4 min), default run (< 20 min: the server topology included)]. */
const PLANS: { [K in keyof Plan]: [quick: Plan[K], full: Plan[K]] } = {
  hardS: [240, 1200],
  reserveS: [10, 40],
  concurrency: [[1, 50], [1, 50]],
  c1S: [1, 4],
  cNS: [1, 6],
  stallTimeoutS: [1.5, 5],
  stallS: [2, 6],
  s2v: [[2, 0], [10, 50]],
  verify: [[2, 50], [10, 100]],
  signinC1S: [1, 4],
  signinCN: [50, 100],
  boxS: [4, 25],
  logout: [[10, 50], [40, 500]],
  throughputS: [10, 60],
  peerThroughputS: [0, 10],
  drainMaxS: [20, 180],
  topologySustainedS: [0, 20],
  floor: [{ hashes: 3, compares: 3, parallelS: 1 }, { hashes: 5, compares: 10, parallelS: 4 }],
};

/** The quick plan or the default one. */
export const planFor = (quick: boolean): Plan =>
  Object.fromEntries(Object.entries(PLANS).map(([key, [quickValue, fullValue]]) => [key, quick ? quickValue : fullValue])) as unknown as Plan;

/**
 * One benchmark run: its plan, clock, ids, ports, settings and what it collects. Made by
 * createBench when the run starts (never at import), and handed to every scenario.
 */
export interface Bench extends BenchOptions {
  plan: Plan;
  t0: number;
  /** Starts the run's clock (t0) again: a one-off build before the run is not part of its time bound. */
  restartClock(): void;
  elapsedS(): number;
  /** Seconds left for scenarios (the reserve is for stopping processes and cleaning up). */
  remainingS(): number;
  log(msg: string): void;
  run: string;
  resultsDir: string;
  tmp: string;
  config: Config;
  /**
   * The configured cost (common/config.ts, 12 unless BCRYPT_COST says otherwise). --quick uses 10
   * unless BCRYPT_COST is set: four times cheaper, so the bcrypt-bound runs at 50 connections fit in
   * two minutes. Every system and the floor use the same cost in a run.
   */
  cost: number;
  benchDb: string;
  ports: ReturnType<typeof portsFrom>;
  queue: string;
  queueStalled: string;
  mail: MailDev;
  results: ScenarioResult[];
  /** Emails each system still owes from earlier scenarios: waited for so one scenario's backlog does not load the next. */
  owed: Map<System, { needle: string; expected: number }[]>;
  skipped: string[];
  procs: SupervisedProcess[];
  /** The twins on the stalling SMTP server: stopped once the stalled scenario is done. */
  stalledProcs: SupervisedProcess[];
  stall?: Awaited<ReturnType<typeof startStallingSmtp>>;
  /** Ours on the dev server and on the server topology (scenarios/temporal-topology.ts). */
  topology?: TopologyComparison;
  /** RSS of our processes at the end of the sustained run (MB). */
  memory?: RssByProcess;
  /** The server topology's binaries are built (buildServerTopology). */
  canTopology?: boolean;
  /** Our twin with tracing on (started with ours), and what the observability step measured. */
  observed?: Awaited<ReturnType<typeof startObserved>>;
  /** Open workflows on the Temporal server when the run started (null: not counted). */
  openWorkflowsAtStart?: number | null;
  observability?: ObservabilityOverhead;
  /** One of the processes under test, started, logging to the run's folder. */
  startTsx(name: string, script: string, env: NodeJS.ProcessEnv, nodeArgs?: readonly string[]): SupervisedProcess;
  /** A run-unique address of a system's scenario: `needle` finds all of them in MailDev. */
  address(sut: { tag: string }, purpose: string, n: number | string): string;
  needle(sut: { tag: string }, purpose: string): string;
}

const portsFrom = (base: number) => ({
  api: base + 1,
  worker: base + 2,
  dbp: base + 3,
  apiStalled: base + 4,
  workerStalled: base + 5,
  // Ours with tracing on and its metrics scraped (bench/scenarios/observability.ts).
  obsApi: base + 6,
  obsWorker: base + 7,
  obsDbp: base + 8,
  obsMetrics: base + 9,
  // Its twin with tracing off and nobody scraping: the "off" side of the same comparison.
  obsOffApi: base + 13,
  obsOffWorker: base + 14,
  obsOffDbp: base + 15,
  direct: base + 11,
  directStalled: base + 12,
  ba: base + 21,
  baStalled: base + 22,
  srvApi: base + 31,
  srvWorker: base + 32,
  srvDbp: base + 33,
});

export function createBench(options: BenchOptions, env: NodeJS.ProcessEnv = process.env): Bench {
  const plan = planFor(options.quick);
  const elapsedS = () => (Date.now() - bench.t0) / 1000;
  const run = randomBytes(3).toString('hex');
  const resultsDir = path.join(REPO_ROOT, 'bench', 'results');
  const tmp = path.join(resultsDir, 'tmp', run);
  mkdirSync(tmp, { recursive: true });
  const config = loadConfig({ ...env, LOG_LEVEL: 'warn' });
  const needle = (sut: { tag: string }, purpose: string) => `b-${run}-${sut.tag}-${purpose}-`;
  const bench: Bench = {
    ...options,
    plan,
    t0: Date.now(),
    restartClock: () => {
      bench.t0 = Date.now();
    },
    elapsedS,
    remainingS: () => plan.hardS - plan.reserveS - elapsedS(),
    log: (msg) => process.stderr.write(`[bench ${elapsedS().toFixed(0).padStart(3)}s] ${msg}\n`),
    run,
    resultsDir,
    tmp,
    config,
    cost: options.quick && !env.BCRYPT_COST ? 10 : config.BCRYPT_COST,
    benchDb: config.DATABASE_URL.replace(/\/[^/?]+(\?|$)/, '/cfd_auth_bench$1'),
    ports: portsFrom(Number(env.BENCH_PORT_BASE ?? 3100)),
    queue: `bench-${run}`,
    queueStalled: `bench-${run}-stalled`,
    mail: new MailDev(env.MAILDEV_URL ?? 'http://127.0.0.1:1080'),
    results: [],
    owed: new Map(),
    skipped: [],
    procs: [],
    stalledProcs: [],
    startTsx: (name, script, procEnv, nodeArgs = []) => tsxProcess(name, script, procEnv, path.join(tmp, `${name}.log`), { nodeArgs }).start(),
    address: (sut, purpose, n) => `${needle(sut, purpose)}${n}@bench.example.com`,
    needle,
  };
  return bench;
}
