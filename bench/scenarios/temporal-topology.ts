import path from 'node:path';
import { runToEnd, type SupervisedProcess } from '../../testkit/supervisor';
import type { Bench } from '../context';
import { startTwin } from '../lib/twin';
import { openWorkflows, terminateBenchWorkflows } from '../infra';
import { drain } from '../lib/drain';
import { runLoad, type ScenarioResult } from '../lib/load';
import type { Sut } from '../systems';
import { cpuLine, OURS_PROCS, pgids, scenarioThroughput, type Throughput } from './signup';
import { secondServerTopologyEnv } from '../../temporal-config/server';

/**
 * Our system on both Temporal topologies in the same run: the stack's CLI dev server (one shard,
 * SQLite) and the production topology (TEMPORAL_TOPOLOGY=server: the Temporal server on PostgreSQL
 * with TEMPORAL_HISTORY_SHARDS shards), which the bench starts for itself with `scripts/stack.sh
 * temporal-up` 50 ports above the stack's Temporal, data in the run's folder, databases
 * <bench db>_temporal*. Signup at 1 and 50 connections alternated dev, server, server, dev (so a
 * drift of the shared machine falls on both), then a sustained run on each with every code waited for.
 * Each run starts once the codes of the runs before it are mailed (bounded), so no run pays for the
 * other topology's backlog.
 */
export interface TopologyComparison {
  server: { shards: number; address: string; startup_s: number };
  /** Open workflows on each server when the scenario began: the dev server still holds the run's earlier signups (they wait 24 h for a code). */
  open_workflows_at_start: { dev: number | null; server: number | null };
  signup_c1: { dev_p50_ms: number | null; server_p50_ms: number | null };
  signup_c50: { dev_p50_ms: number | null; server_p50_ms: number | null; dev_rps: number; server_rps: number };
  throughput: { dev: Throughput; server: Throughput } | null;
  runs: ScenarioResult[];
}

const median = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** The env of `scripts/stack.sh temporal-up|temporal-down` for the bench's own server topology. */
function stackEnv(ctx: Bench): NodeJS.ProcessEnv {
  return secondServerTopologyEnv({ shards: Number(process.env.TEMPORAL_HISTORY_SHARDS || 8), databaseUrl: ctx.benchDb, dataDir: path.join(ctx.tmp, 'temporal-server') });
}

/** Builds the server topology's binaries when they are missing (minutes, once per machine; before the run's clock). */
export async function buildServerTopology(ctx: Bench): Promise<void> {
  const t0 = Date.now();
  const built = await runToEnd('bash', ['scripts/stack.sh', 'temporal-build'], stackEnv(ctx), 45 * 60_000);
  ctx.canTopology = built.code === 0;
  if (!ctx.canTopology) {
    ctx.log(`temporal topology: the server topology could not be built, its scenario is skipped:\n${built.out.slice(-1500)}`);
    ctx.skipped.push('temporal_topology (server topology not built: see the log above)');
  } else if (Date.now() - t0 > 5000) {
    ctx.log(`temporal topology: server topology built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}

export interface ServerTopology {
  procs: SupervisedProcess[];
  address: string;
  shards: number;
  startupS: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the server topology (built on first use: minutes, once per machine) and our three
 * processes on it. Undefined, with the reason logged, when it cannot start: the rest of the run goes on.
 */
export async function startServerTopology(ctx: Bench, baseEnv: NodeJS.ProcessEnv): Promise<ServerTopology | undefined> {
  const t0 = Date.now();
  const env = stackEnv(ctx);
  ctx.log(`temporal topology: starting the server topology on 127.0.0.1:${env.TEMPORAL_PORT} (${env.TEMPORAL_HISTORY_SHARDS} shards; built from source on first use)`);
  const up = await runToEnd('bash', ['scripts/stack.sh', 'temporal-up'], env, 30 * 60_000);
  if (up.code !== 0) {
    ctx.log(`temporal topology: could not start the server topology, skipped:\n${up.out.slice(-1500)}`);
    ctx.skipped.push('temporal_topology (server topology did not start)');
    return undefined;
  }
  const address = `127.0.0.1:${env.TEMPORAL_PORT}`;
  const ports = { api: ctx.ports.srvApi, worker: ctx.ports.srvWorker, dbp: ctx.ports.srvDbp };
  const { procs, ready } = await startTwin(ctx, 'srv', { ...baseEnv, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: `${ctx.queue}-srv` }, ports);
  await ready();
  return {
    procs,
    address,
    shards: Number(env.TEMPORAL_HISTORY_SHARDS),
    startupS: (Date.now() - t0) / 1000,
    url: `http://127.0.0.1:${ctx.ports.srvApi}`,
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
      // Its open signups (they wait 24 h for a code) end here, not at the next start of this server.
      try {
        await terminateBenchWorkflows(ctx, [`${ctx.queue}-srv`], address);
      } catch (err) {
        ctx.log(`temporal topology: could not end its open workflows: ${(err as Error).message}`);
      }
      const down = await runToEnd('bash', ['scripts/stack.sh', 'temporal-down'], env, 120_000);
      if (down.code !== 0) ctx.log(`temporal topology: temporal-down failed:\n${down.out.slice(-1500)}`);
    },
  };
}

export async function scenarioTopology(ctx: Bench, ours: Sut, server: ServerTopology, sustainedS: number): Promise<void> {
  const srv: Sut = { ...ours, tag: 'os', url: server.url, users: [], sessions: [] };
  const runs: ScenarioResult[] = [];
  const [openDev, openServer] = await Promise.all([openWorkflows(ctx), openWorkflows(ctx, server.address)]);
  const settle = () => drain(ctx, [ours], ctx.plan.drainMaxS / 3);
  let n = 0;
  for (const onServer of [false, true, true, false]) {
    const sut = onServer ? srv : ours;
    const topology = onServer ? 'server' : 'dev';
    for (const c of [1, 50]) {
      const purpose = `tt${n++}`;
      await settle();
      const r = await runLoad({
        system: 'ours', name: `signup_temporal_${topology}`, url: sut.url, method: 'POST', path: sut.signup.path,
        concurrency: c, durationS: c === 1 ? ctx.plan.c1S : ctx.plan.cNS, timeoutS: 30, expect: sut.signup.expect,
        build: (i) => ({ body: sut.signup.body(ctx.address(sut, purpose, i)) }),
      });
      runs.push(r);
      ctx.owed.set('ours', [...(ctx.owed.get('ours') ?? []), { needle: ctx.needle(sut, purpose), expected: r.ok }]);
    }
  }
  const pick = (topology: string, c: number, f: (r: ScenarioResult) => number | null) =>
    median(runs.filter((r) => r.name === `signup_temporal_${topology}` && r.concurrency === c).map(f));
  let throughput: TopologyComparison['throughput'] = null;
  if (sustainedS > 0) {
    // scenarioThroughput records its load run with the others: moved here, under this scenario's names.
    // Each topology's own three processes (the server topology's are a twin, suffix -srv; all are in ctx.procs).
    const sustained = async (sut: Sut, topology: string, suffix: string) => {
      await settle();
      const t = await scenarioThroughput(ctx, sut, sustainedS, ctx.plan.drainMaxS / 3, pgids(ctx.procs, OURS_PROCS, suffix));
      const r = ctx.results.pop()!;
      runs.push({ ...r, name: `signup_throughput_temporal_${topology}` });
      return t;
    };
    const dev = await sustained({ ...ours, tag: 'od' }, 'dev', '');
    throughput = { dev, server: await sustained(srv, 'server', '-srv') };
  }
  ctx.topology = {
    server: { shards: server.shards, address: server.address, startup_s: Math.round(server.startupS * 10) / 10 },
    open_workflows_at_start: { dev: openDev, server: openServer },
    signup_c1: { dev_p50_ms: pick('dev', 1, (r) => r.p50_ms), server_p50_ms: pick('server', 1, (r) => r.p50_ms) },
    signup_c50: {
      dev_p50_ms: pick('dev', 50, (r) => r.p50_ms),
      server_p50_ms: pick('server', 50, (r) => r.p50_ms),
      dev_rps: pick('dev', 50, (r) => r.rps) ?? 0,
      server_rps: pick('server', 50, (r) => r.rps) ?? 0,
    },
    throughput,
    runs,
  };
  const t = ctx.topology;
  ctx.log(`temporal topology: signup c=1 p50 dev ${t.signup_c1.dev_p50_ms} ms, server ${t.signup_c1.server_p50_ms} ms; c=50 p50 dev ${t.signup_c50.dev_p50_ms} ms / ${t.signup_c50.dev_rps} req/s, server ${t.signup_c50.server_p50_ms} ms / ${t.signup_c50.server_rps} req/s`);
}

export function topologyMarkdown(t: TopologyComparison | undefined): string[] {
  if (!t) return [];
  const ratio = (a: number | null, b: number | null) => (a && b ? (b / a).toFixed(2) : 'n/a');
  // A median of two runs is their mean: shown to 0.1 ms.
  const ms = (x: number | null) => (x === null ? 'n/a' : (Math.round(x * 10) / 10).toString());
  const rows = [
    `| signup p50, 1 connection (ms) | ${ms(t.signup_c1.dev_p50_ms)} | ${ms(t.signup_c1.server_p50_ms)} | ${ratio(t.signup_c1.dev_p50_ms, t.signup_c1.server_p50_ms)} |`,
    `| signup p50, 50 connections (ms) | ${ms(t.signup_c50.dev_p50_ms)} | ${ms(t.signup_c50.server_p50_ms)} | ${ratio(t.signup_c50.dev_p50_ms, t.signup_c50.server_p50_ms)} |`,
    `| signup req/s, 50 connections | ${t.signup_c50.dev_rps} | ${t.signup_c50.server_rps} | ${ratio(t.signup_c50.dev_rps, t.signup_c50.server_rps)} |`,
  ];
  if (t.throughput) {
    const { dev, server } = t.throughput;
    const drained = (x: Throughput) => `${x.delivered}/${x.accepted}${x.all_codes_delivered_s === null ? ` (bound ${x.drain_bound_s} s reached)` : `, all ${x.all_codes_delivered_s} s after the load`}`;
    rows.push(`| sustained signups/s, ${dev.duration_s.toFixed(0)} s at 50 connections | ${dev.signups_per_s} | ${server.signups_per_s} | ${ratio(dev.signups_per_s, server.signups_per_s)} |`);
    rows.push(`| codes delivered | ${drained(dev)} | ${drained(server)} | |`);
    const machine = (x: Throughput) => x.cpu_ms_per_signup?.machine ?? null;
    rows.push(`| CPU of the whole machine per sustained signup (ms) | ${ms(machine(dev))} | ${ms(machine(server))} | ${ratio(machine(dev), machine(server))} |`);
  }
  return [
    '',
    '### Temporal topologies (ours on the dev server ÷ on the server topology, same run)',
    '',
    `Dev: the stack's CLI dev server (1 shard, SQLite). Server: the Temporal server 1.29.1 on PostgreSQL with ${t.server.shards} history shards at ${t.server.address} (started by the bench in ${t.server.startup_s} s). Same API, worker and DB processor code, each topology its own three processes. Signup runs alternated dev, server, server, dev, each once the codes of the runs before it were mailed; medians. Open workflows when the scenario began: dev server ${t.open_workflows_at_start?.dev ?? 'n/a'} (this run's earlier signups wait there for their codes), server topology ${t.open_workflows_at_start?.server ?? 'n/a'}.`,
    '',
    '| measure | dev server | server topology | server ÷ dev |',
    '|---|---:|---:|---:|',
    ...rows,
    ...(t.throughput ? ['', ...[cpuLine(t.throughput.dev, 'on the dev server'), cpuLine(t.throughput.server, 'on the server topology')].filter((l): l is string => !!l)] : []),
  ];
}
