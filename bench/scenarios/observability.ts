import { randomBytes } from 'node:crypto';
import { DEFAULT_TRACE_RATIO } from '../../common/tracing';
import { OtlpSink } from '../../testkit/otlp-sink';
import type { SupervisedProcess } from '../../testkit/supervisor';
import type { Bench } from '../context';
import { sleep } from '../../testkit/wait';
import { drain } from '../lib/drain';
import { startTwin, twinReady } from '../lib/twin';
import { percentile, runLoad, type ScenarioResult } from '../lib/load';
import { groupCpuMs } from '../lib/rss';
import type { Sut } from '../systems';

/**
 * The cost of observability, measured in the same run between two twins of our system started
 * together and warmed up alike, which differ only in it: "off" (tracing off, nobody scraping
 * /metrics) and "on" (tracing at its default sampling, `parentbased_traceidratio` 0.05: spans
 * exported over OTLP/HTTP to the local Jaeger when it answers, otherwise to an in-process sink, and
 * its three /metrics endpoints scraped every second). prom-client counts in both: recording cannot
 * be turned off, so "off" means not scraped. (Until 2026-12-03 "off" was the main system, which had
 * served every earlier scenario: its worker held thousands of cached signups the twin did not, and
 * the signup comparison came out faster with tracing on than off.)
 *
 * The same twin also runs with every request traced: the load sends a sampled W3C `traceparent`,
 * which the parent-based sampler follows (the twin trusts callers: TRACE_INCOMING_CONTEXT=follow), so the full cost is measured without a third process set.
 * Same stack, same sessions (Redis is shared); the twin is warmed up first (one unrecorded run of
 * each), then runs alternate off, sampled, all, all, sampled, off so a drift of the shared machine
 * falls on every side. Each mode's figure pools its two runs (poolRuns): a stall of the shared
 * Temporal server that leaves one run with a handful of signups weighs by those signups, instead of
 * being half of a mean of two p50s.
 *
 * The twins' processes differ from run to run by about 5 % (two APIs of the same code side by side
 * read 0.96–1.09 of each other in CPU per /me in five runs: bench/README.md), so the default
 * sampling's own reading of /me cannot resolve its goal. The "all" runs can: every request pays
 * what a kept one pays, an effect several times the noise (+37 to +47 % in the runs so far).
 * `estimatedAtRatio` scales it to the default ratio, which holds for /me because an unkept /me
 * costs nothing measurable (an API with tracing on and nothing kept read 0.96–1.09 of one with
 * tracing off: bench/README.md). Not for a signup: its CPU at the default sampling reads about as
 * high as with every signup traced (median 1.22 against 1.38 × off over the runs in bench/results),
 * so what it pays is mostly not the kept spans, and an estimate from them would hide it; the signup
 * rows are direct readings only. For the estimate the "all" /me runs must pay in full: the "on"
 * twin's batch queue is large enough that no span is dropped (at 5 % it never fills, so that run is
 * as configured), and every /me run is measured until its API is quiet and the batch processor's
 * scheduled export after that is over (`settled`), so its spans are exported inside its own window:
 * the export of a fully traced /me run's 60,000 spans outlasts the run by seconds, and spilled into
 * the next (a bench run before this read the sampled signup at 1.65 × off). Not the signup runs: a
 * few dozen signups at one connection make a few hundred spans, and the seconds of waiting (the
 * "on" side's scrapes, everyone's polling) would be charged to those few signups.
 */
type Mode = 'off' | 'sampled' | 'all';
const MODES: Mode[] = ['off', 'sampled', 'all', 'all', 'sampled', 'off'];
export const OBSERVABILITY_RUNS = MODES.length;
/** The batch span processor's default schedule (OTEL_BSP_SCHEDULE_DELAY, 5 s), and a margin. */
const BSP_DELAY_S = 5.5;
/** Quiet: each process used under 5 % of a core over the last half second. */
const QUIET_POLL_MS = 500;
const QUIET_CPU_SHARE = 0.05;
const QUIET_MAX_S = 60;

/**
 * on ÷ off at `ratio` of requests kept, from on ÷ off with every request kept: each kept request
 * adds what it adds when all are, an unkept one adds nothing. `perRequest`: the measure grows with
 * the cost (CPU per request); otherwise it shrinks with it (req/s, on cores the load saturates).
 */
export function estimatedAtRatio(ratio: number, allOverOff: number | null, perRequest: boolean): number | null {
  if (allOverOff === null || !(allOverOff > 0)) return null;
  const cost = perRequest ? allOverOff : 1 / allOverOff;
  const at = 1 + ratio * (cost - 1);
  return perRequest ? at : 1 / at;
}

/**
 * One measure per mode, and on ÷ off: "sampled_estimated_ratio" is the default sampling's on ÷ off
 * from the "all" runs (estimatedAtRatio), for /me only (see above).
 */
type Summary = Record<Mode, number | null> & { sampled_ratio: number | null; all_ratio: number | null; sampled_estimated_ratio?: number | null };

export interface ObservabilityOverhead {
  exporter: string;
  scrape_interval_s: number;
  /** The twin's default sampling ("sampled"); "all" sends a sampled traceparent with every request. */
  sampling: string;
  signup_c1: Summary;
  me_c50: Summary;
  /** CPU ms the twin's API, worker and DB processor used per signup of the signup runs. */
  signup_cpu_ms: Summary;
  /** CPU ms the twin's API used per /me of the /me runs, until the batch export after each. */
  me_cpu_ms: Summary;
  goal: string;
  runs: ScenarioResult[];
}

/** One run as poolRuns needs it: its latencies, accepted requests, wall time and CPU (null: not measured). */
export interface PooledRun {
  latencies: number[];
  ok: number;
  durationS: number;
  cpuMs: number | null;
}

/**
 * The runs of one mode as one: p50 over every latency of them, req/s as all accepted requests over
 * all their time, CPU per request as all CPU over all accepted requests (null when a run's CPU is unknown).
 */
export function poolRuns(runs: PooledRun[]): { p50_ms: number | null; rps: number | null; cpu_ms_per_request: number | null } {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const ok = runs.reduce((n, r) => n + r.ok, 0);
  const time = runs.reduce((n, r) => n + r.durationS, 0);
  const cpu = runs.some((r) => r.cpuMs === null) ? null : runs.reduce((n, r) => n + (r.cpuMs as number), 0);
  return { p50_ms: percentile(latencies, 50), rps: time > 0 ? ok / time : null, cpu_ms_per_request: cpu !== null && ok > 0 ? cpu / ok : null };
}
const round = (x: number | null, d = 3) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

const obsPorts = (ctx: Bench) => ({ api: ctx.ports.obsApi, worker: ctx.ports.obsWorker, dbp: ctx.ports.obsDbp });
const offPorts = (ctx: Bench) => ({ api: ctx.ports.obsOffApi, worker: ctx.ports.obsOffWorker, dbp: ctx.ports.obsOffDbp });

/** The twins' processes, each as startTwin orders them: DB processor, worker, API. */
interface Observed {
  on: SupervisedProcess[];
  off: SupervisedProcess[];
  procs: SupervisedProcess[];
  exporter: string;
  sink?: OtlpSink;
}

export async function startObserved(ctx: Bench, baseEnv: NodeJS.ProcessEnv): Promise<Observed> {
  const jaeger = `http://127.0.0.1:${process.env.JAEGER_OTLP_PORT ?? 4318}`;
  const jaegerUi = `http://127.0.0.1:${process.env.JAEGER_UI_PORT ?? 16686}/`;
  const jaegerUp = process.env.JAEGER_SKIP !== '1' && (await fetch(jaegerUi, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false));
  const sink = jaegerUp ? undefined : await OtlpSink.start();
  const endpoint = sink ? sink.url : jaeger;
  const on = await startTwin(ctx, 'obs', { ...baseEnv, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_MAX_QUEUE_SIZE: '200000', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(DEFAULT_TRACE_RATIO), TRACE_INCOMING_CONTEXT: 'follow', TEMPORAL_TASK_QUEUE: `${ctx.queue}-obs`, API_METRICS_PORT: String(ctx.ports.obsMetrics) }, obsPorts(ctx));
  const off = await startTwin(ctx, 'obs-off', { ...baseEnv, TEMPORAL_TASK_QUEUE: `${ctx.queue}-obs-off` }, offPorts(ctx));
  return { on: on.procs, off: off.procs, procs: [...on.procs, ...off.procs], exporter: sink ? `in-process OTLP sink ${endpoint}` : `Jaeger ${endpoint}`, sink };
}

export async function waitObserved(ctx: Bench, observed: Observed): Promise<void> {
  await Promise.all([twinReady(observed.on, obsPorts(ctx)), twinReady(observed.off, offPorts(ctx))]);
}

/** Signup p50 at one connection and /me throughput at 50, off and on, alternated. */
export async function scenarioObservability(ctx: Bench, ours: Sut, exporter: string): Promise<void> {
  const onUrl = `http://127.0.0.1:${ctx.ports.obsApi}`;
  const offUrl = `http://127.0.0.1:${ctx.ports.obsOffApi}`;
  const scrapeS = 1;
  const targets = [`http://127.0.0.1:${ctx.ports.obsMetrics}/metrics`, `http://127.0.0.1:${ctx.ports.obsWorker}/metrics`, `http://127.0.0.1:${ctx.ports.obsDbp}/metrics`];
  const scraper = setInterval(() => {
    for (const t of targets) void fetch(t, { signal: AbortSignal.timeout(2000) }).then((r) => r.text(), () => undefined);
  }, scrapeS * 1000);
  const runs: ScenarioResult[] = [];
  // CPU per request from /proc: steadier than latency or req/s on cores shared with the rest of the bench.
  const side = (mode: Mode) => (mode === 'off' ? ctx.observed?.off : ctx.observed?.on) ?? [];
  const apiOf = (ps: SupervisedProcess[]) => ps.slice(2);
  const cpuOf = (ps: SupervisedProcess[]) => {
    let ms = 0;
    for (const p of ps) {
      const c = groupCpuMs(p.pid);
      if (c === null) return null;
      ms += c;
    }
    return ms;
  };
  /** What each run adds to its ScenarioResult for poolRuns. */
  const measures = new Map<ScenarioResult, Pick<PooledRun, 'latencies' | 'cpuMs'>>();
  /**
   * Until `ps` are quiet (bounded at QUIET_MAX_S), then the batch processor's scheduled delay, so
   * the spans left below a full batch are exported too.
   */
  const settled = async (ps: SupervisedProcess[]) => {
    const until = Date.now() + QUIET_MAX_S * 1000;
    let last = cpuOf(ps);
    while (last !== null && Date.now() < until) {
      await sleep(QUIET_POLL_MS);
      const now = cpuOf(ps);
      if (now === null || now - last < QUIET_POLL_MS * QUIET_CPU_SHARE * ps.length) break;
      last = now;
    }
    await sleep(BSP_DELAY_S * 1000);
  };
  /**
   * Runs a load and keeps its latencies and the CPU `ps` used over it and, with `settle`, until
   * what the load started in the background is over (poolRuns divides that by the requests): a
   * signup's mail is sent after its answer, a /me run's spans are exported after it, and either
   * would otherwise be counted in (and slow down) whichever run came next.
   */
  const measured = async (ps: SupervisedProcess[], load: (sink: number[]) => Promise<ScenarioResult>, settle?: (r: ScenarioResult) => Promise<void>) => {
    const start = cpuOf(ps);
    const sink: number[] = [];
    const r = await load(sink);
    if (settle) await settle(r);
    const end = cpuOf(ps);
    measures.set(r, { latencies: sink, cpuMs: start !== null && end !== null ? end - start : null });
    return r;
  };
  /** Until every accepted signup of the run has its code in MailDev (infra's drain, bounded at 120 s). */
  const delivered = (purpose: string) => async (r: ScenarioResult) => {
    ctx.owed.set('ours', [...(ctx.owed.get('ours') ?? []), { needle: ctx.needle(ours, purpose), expected: r.ok }]);
    await drain(ctx, [ours], 120);
  };
  // A sampled W3C trace context per request: the twin's parent-based sampler keeps every one.
  const traced = () => ({ traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` });
  try {
    // Warm-up of both twins, not recorded: a cold process (JIT, connection pools) would count
    // against whichever side ran first.
    const sessions0 = [...ours.sessions];
    for (const [k, url] of [onUrl, offUrl].entries()) {
      const warm = await runLoad({
        system: 'ours', name: 'signup_warmup', url, method: 'POST', path: ours.signup.path, concurrency: 1, durationS: ctx.plan.c1S, expect: ours.signup.expect,
        build: (i) => ({ body: ours.signup.body(ctx.address(ours, `obw${k}`, i)) }),
      });
      await delivered(`obw${k}`)(warm);
      if (sessions0.length > 0) {
        await runLoad({
          system: 'ours', name: 'me_warmup', url, method: 'GET', path: ours.me.path, concurrency: 50, durationS: ctx.plan.cNS, expect: ours.me.expect,
          build: (i) => ({ headers: { cookie: sessions0[i % sessions0.length] } }),
        });
      }
    }
    let n = 0;
    for (const mode of MODES) {
      const url = mode === 'off' ? offUrl : onUrl;
      const headers = () => (mode === 'all' ? traced() : {});
      const purpose = `ob${mode[0]}${n++}`;
      runs.push(await measured(side(mode), (sink) => runLoad({
        system: 'ours', name: `signup_${mode}`, url, method: 'POST', path: ours.signup.path,
        concurrency: 1, durationS: ctx.plan.c1S, expect: ours.signup.expect, latencies: sink,
        build: (i) => ({ body: ours.signup.body(ctx.address(ours, purpose, i)), headers: headers() }),
      }), delivered(purpose)));
      const sessions = [...ours.sessions];
      if (sessions.length > 0) {
        runs.push(await measured(apiOf(side(mode)), () => runLoad({
          system: 'ours', name: `me_${mode}`, url, method: 'GET', path: ours.me.path,
          concurrency: 50, durationS: ctx.plan.cNS, expect: ours.me.expect,
          build: (i) => ({ headers: { cookie: sessions[i % sessions.length], ...headers() } }),
        }), () => settled(apiOf(side(mode)))));
      }
    }
  } finally {
    clearInterval(scraper);
  }
  /** Each mode's runs of one measure, pooled once. */
  const pooled = (measure: 'signup' | 'me') => {
    const byMode = new Map((['off', 'sampled', 'all'] as Mode[]).map((m) => {
      const of = runs.filter((r) => r.name === `${measure}_${m}`);
      return [m, of.length ? poolRuns(of.map((r) => ({ latencies: [], cpuMs: null, ...measures.get(r), ok: r.ok, durationS: r.duration_s }))) : null];
    }));
    return (f: (p: ReturnType<typeof poolRuns>) => number | null) => Object.fromEntries([...byMode].map(([m, p]) => [m, p ? f(p) : null])) as Record<Mode, number | null>;
  };
  const signup = pooled('signup');
  const me = pooled('me');
  const p50 = signup((p) => p.p50_ms);
  const rps = me((p) => p.rps);
  const signupCpu = signup((p) => p.cpu_ms_per_request);
  const meCpu = me((p) => p.cpu_ms_per_request);
  const ratio = (x: number | null, base: number | null) => (x !== null && base ? round(x / base) : null);
  const summary = (m: Record<Mode, number | null>, d: number, perRequest?: boolean): Summary => {
    const all = m.all !== null && m.off ? m.all / m.off : null;
    return {
      off: round(m.off, d), sampled: round(m.sampled, d), all: round(m.all, d), sampled_ratio: ratio(m.sampled, m.off), all_ratio: round(all),
      ...(perRequest === undefined ? {} : { sampled_estimated_ratio: round(estimatedAtRatio(DEFAULT_TRACE_RATIO, all, perRequest)) }),
    };
  };
  ctx.observability = {
    exporter,
    scrape_interval_s: scrapeS,
    sampling: `${DEFAULT_TRACE_RATIO * 100} % of requests (parentbased_traceidratio, the default)`,
    signup_c1: summary(p50, 2),
    me_c50: summary(rps, 1, false),
    signup_cpu_ms: summary(signupCpu, 2),
    me_cpu_ms: summary(meCpu, 3, true),
    goal: 'at the default sampling: signup p50 on ÷ off ≤ 1.05; /me req/s on ÷ off ≥ 0.95 (CPU per request on ÷ off ≤ 1.05 is the steadier reading of both; the estimate from every request traced the steadiest)',
    runs,
  };
  const o = ctx.observability;
  ctx.log(`observability: signup c=1 p50 off ${o.signup_c1.off} ms, sampled ${o.signup_c1.sampled} ms (×${o.signup_c1.sampled_ratio}), all ${o.signup_c1.all} ms (×${o.signup_c1.all_ratio}); me c=50 off ${o.me_c50.off} req/s, sampled ${o.me_c50.sampled} (×${o.me_c50.sampled_ratio}), all ${o.me_c50.all} (×${o.me_c50.all_ratio}); CPU per signup ×${o.signup_cpu_ms.sampled_ratio} sampled, ×${o.signup_cpu_ms.all_ratio} all; API CPU per /me ×${o.me_cpu_ms.sampled_ratio} sampled, ×${o.me_cpu_ms.all_ratio} all, ×${o.me_cpu_ms.sampled_estimated_ratio} sampled as estimated from all; exporter ${exporter}`);
}

export function observabilityMarkdown(o: ObservabilityOverhead | undefined): string[] {
  if (!o) return [];
  const pct = (r: number | null, inverse = false) => (r === null ? 'n/a' : `${(((inverse ? 1 / r : r) - 1) * 100).toFixed(1)} %`);
  const row = (label: string, m: Summary, unit: string, inverse: boolean) => [
    `| ${label}, default sampling | ${m.off ?? 'n/a'}${unit} | ${m.sampled ?? 'n/a'}${unit} | ${m.sampled_ratio ?? 'n/a'} | ${pct(m.sampled_ratio, inverse)} |`,
    ...(m.sampled_estimated_ratio === undefined ? [] : [`| ${label}, default sampling estimated from every request traced | | | ${m.sampled_estimated_ratio ?? 'n/a'} | ${pct(m.sampled_estimated_ratio ?? null, inverse)} |`]),
    `| ${label}, every request traced | ${m.off ?? 'n/a'}${unit} | ${m.all ?? 'n/a'}${unit} | ${m.all_ratio ?? 'n/a'} | ${pct(m.all_ratio, inverse)} |`,
  ];
  return [
    '',
    '### Observability overhead (tracing and metrics on ÷ off, same run)',
    '',
    `On: tracing on, spans exported (${o.exporter}), the three /metrics endpoints scraped every ${o.scrape_interval_s} s; "default sampling" keeps ${o.sampling}, "every request traced" sends a sampled traceparent with each request. Off: its twin, started and warmed up alike, with no tracing and nobody scraping. Runs alternated off, sampled, all, all, sampled, off; each figure pools the two runs of its mode (p50 over all their signups; req/s and CPU per request as totals over totals); a /me run's CPU is read until its API is quiet and the batch export after that is over. "Estimated from every request traced" (/me only) is 1 + ${DEFAULT_TRACE_RATIO} × (every request traced ÷ off − 1) (for req/s, of its inverse): the twins' processes differ by about 5 % from run to run, a fully traced request's cost is several times that, and an unkept /me costs nothing measurable; a signup's CPU at the default sampling is mostly not its kept spans, so its rows are direct readings. Goal: ${o.goal}.`,
    '',
    '| measure | off | on | on ÷ off | overhead |',
    '|---|---:|---:|---:|---:|',
    ...row('signup p50, 1 connection', o.signup_c1, ' ms', false),
    ...row('/me req/s, 50 connections', o.me_c50, '', true),
    ...(o.signup_cpu_ms ? row('signup, CPU of API + worker + DB processor per signup, until its code is mailed', o.signup_cpu_ms, ' ms', false) : []),
    ...(o.me_cpu_ms ? row('/me, API CPU per request', o.me_cpu_ms, ' ms', false) : []),
  ];
}
