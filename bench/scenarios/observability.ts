import { randomBytes } from 'node:crypto';
import { DEFAULT_TRACE_RATIO } from '../../common/tracing';
import { OtlpSink } from '../../testkit/otlp-sink';
import type { SupervisedProcess } from '../../testkit/supervisor';
import type { Bench } from '../context';
import { startTwin, twinReady } from '../lib/twin';
import { runLoad, type ScenarioResult } from '../lib/load';
import type { Sut } from '../systems';

/**
 * The cost of observability, measured in the same run: our system as the other scenarios run it
 * (tracing off, nobody scraping /metrics) against a twin with tracing on at its default sampling
 * (`parentbased_traceidratio` 0.05: spans exported over OTLP/HTTP to the local Jaeger when it
 * answers, otherwise to an in-process sink) and its three /metrics endpoints scraped every second.
 * prom-client counts in both: recording cannot be turned off, so "off" means not scraped.
 *
 * The same twin also runs with every request traced: the load sends a sampled W3C `traceparent`,
 * which the parent-based sampler follows (the twin trusts callers: TRACE_INCOMING_CONTEXT=follow), so the full cost is measured without a third process set.
 * Same stack, same sessions (Redis is shared); the twin is warmed up first (one unrecorded run of
 * each), then runs alternate off, sampled, all, all, sampled, off so a drift of the shared machine
 * falls on every side.
 */
type Mode = 'off' | 'sampled' | 'all';
const MODES: Mode[] = ['off', 'sampled', 'all', 'all', 'sampled', 'off'];
export const OBSERVABILITY_RUNS = MODES.length;

export interface ObservabilityOverhead {
  exporter: string;
  scrape_interval_s: number;
  /** The twin's default sampling ("sampled"); "all" sends a sampled traceparent with every request. */
  sampling: string;
  signup_c1: Record<Mode, number | null> & { sampled_ratio: number | null; all_ratio: number | null };
  me_c50: Record<Mode, number | null> & { sampled_ratio: number | null; all_ratio: number | null };
  goal: string;
  runs: ScenarioResult[];
}

const median = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const round = (x: number | null, d = 3) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

const obsPorts = (ctx: Bench) => ({ api: ctx.ports.obsApi, worker: ctx.ports.obsWorker, dbp: ctx.ports.obsDbp });

export async function startObserved(ctx: Bench, baseEnv: NodeJS.ProcessEnv): Promise<{ procs: SupervisedProcess[]; exporter: string; sink?: OtlpSink }> {
  const jaeger = `http://127.0.0.1:${process.env.JAEGER_OTLP_PORT ?? 4318}`;
  const jaegerUi = `http://127.0.0.1:${process.env.JAEGER_UI_PORT ?? 16686}/`;
  const jaegerUp = process.env.JAEGER_SKIP !== '1' && (await fetch(jaegerUi, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false));
  const sink = jaegerUp ? undefined : await OtlpSink.start();
  const endpoint = sink ? sink.url : jaeger;
  const { procs } = startTwin(ctx, 'obs', { ...baseEnv, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(DEFAULT_TRACE_RATIO), TRACE_INCOMING_CONTEXT: 'follow', TEMPORAL_TASK_QUEUE: `${ctx.queue}-obs`, API_METRICS_PORT: String(ctx.ports.obsMetrics) }, obsPorts(ctx));
  return { procs, exporter: sink ? `in-process OTLP sink ${endpoint}` : `Jaeger ${endpoint}`, sink };
}

export async function waitObserved(ctx: Bench, procs: SupervisedProcess[]): Promise<void> {
  await twinReady(procs, obsPorts(ctx));
}

/** Signup p50 at one connection and /me throughput at 50, off and on, alternated. */
export async function scenarioObservability(ctx: Bench, ours: Sut, exporter: string): Promise<void> {
  const onUrl = `http://127.0.0.1:${ctx.ports.obsApi}`;
  const scrapeS = 1;
  const targets = [`http://127.0.0.1:${ctx.ports.obsMetrics}/metrics`, `http://127.0.0.1:${ctx.ports.obsWorker}/metrics`, `http://127.0.0.1:${ctx.ports.obsDbp}/metrics`];
  const scraper = setInterval(() => {
    for (const t of targets) void fetch(t, { signal: AbortSignal.timeout(2000) }).then((r) => r.text(), () => undefined);
  }, scrapeS * 1000);
  const runs: ScenarioResult[] = [];
  // A sampled W3C trace context per request: the twin's parent-based sampler keeps every one.
  const traced = () => ({ traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` });
  try {
    // Warm-up, not recorded: ours has served the earlier scenarios, the twin nothing yet, and a cold
    // process (JIT, connection pools) would count against tracing in the first "on" run.
    const sessions0 = [...ours.sessions];
    await runLoad({
      system: 'ours', name: 'signup_warmup', url: onUrl, method: 'POST', path: ours.signup.path, concurrency: 1, durationS: ctx.plan.c1S, expect: ours.signup.expect,
      build: (i) => ({ body: ours.signup.body(ctx.address(ours, 'obw', i)) }),
    });
    if (sessions0.length > 0) {
      await runLoad({
        system: 'ours', name: 'me_warmup', url: onUrl, method: 'GET', path: ours.me.path, concurrency: 50, durationS: ctx.plan.cNS, expect: ours.me.expect,
        build: (i) => ({ headers: { cookie: sessions0[i % sessions0.length] } }),
      });
    }
    let n = 0;
    for (const mode of MODES) {
      const url = mode === 'off' ? ours.url : onUrl;
      const headers = () => (mode === 'all' ? traced() : {});
      const purpose = `ob${mode[0]}${n++}`;
      runs.push(await runLoad({
        system: 'ours', name: `signup_${mode}`, url, method: 'POST', path: ours.signup.path,
        concurrency: 1, durationS: ctx.plan.c1S, expect: ours.signup.expect,
        build: (i) => ({ body: ours.signup.body(ctx.address(ours, purpose, i)), headers: headers() }),
      }));
      const sessions = [...ours.sessions];
      if (sessions.length > 0) {
        runs.push(await runLoad({
          system: 'ours', name: `me_${mode}`, url, method: 'GET', path: ours.me.path,
          concurrency: 50, durationS: ctx.plan.cNS, expect: ours.me.expect,
          build: (i) => ({ headers: { cookie: sessions[i % sessions.length], ...headers() } }),
        }));
      }
    }
  } finally {
    clearInterval(scraper);
  }
  const by = (measure: 'signup' | 'me', f: (r: ScenarioResult) => number | null) =>
    Object.fromEntries((['off', 'sampled', 'all'] as Mode[]).map((m) => [m, median(runs.filter((r) => r.name === `${measure}_${m}`).map(f))])) as Record<Mode, number | null>;
  const p50 = by('signup', (r) => r.p50_ms);
  const rps = by('me', (r) => r.rps);
  const ratio = (x: number | null, base: number | null) => (x !== null && base ? round(x / base) : null);
  ctx.observability = {
    exporter,
    scrape_interval_s: scrapeS,
    sampling: `${DEFAULT_TRACE_RATIO * 100} % of requests (parentbased_traceidratio, the default)`,
    signup_c1: { off: round(p50.off, 2), sampled: round(p50.sampled, 2), all: round(p50.all, 2), sampled_ratio: ratio(p50.sampled, p50.off), all_ratio: ratio(p50.all, p50.off) },
    me_c50: { off: round(rps.off, 1), sampled: round(rps.sampled, 1), all: round(rps.all, 1), sampled_ratio: ratio(rps.sampled, rps.off), all_ratio: ratio(rps.all, rps.off) },
    goal: 'at the default sampling: signup p50 on ÷ off ≤ 1.05; /me req/s on ÷ off ≥ 0.95',
    runs,
  };
  const o = ctx.observability;
  ctx.log(`observability: signup c=1 p50 off ${p50.off} ms, sampled ${p50.sampled} ms (×${o.signup_c1.sampled_ratio}), all ${p50.all} ms (×${o.signup_c1.all_ratio}); me c=50 off ${rps.off} req/s, sampled ${rps.sampled} (×${o.me_c50.sampled_ratio}), all ${rps.all} (×${o.me_c50.all_ratio}); exporter ${exporter}`);
}

export function observabilityMarkdown(o: ObservabilityOverhead | undefined): string[] {
  if (!o) return [];
  const pct = (r: number | null, inverse = false) => (r === null ? 'n/a' : `${(((inverse ? 1 / r : r) - 1) * 100).toFixed(1)} %`);
  const row = (label: string, m: ObservabilityOverhead['signup_c1'], unit: string, inverse: boolean) => [
    `| ${label}, default sampling | ${m.off ?? 'n/a'}${unit} | ${m.sampled ?? 'n/a'}${unit} | ${m.sampled_ratio ?? 'n/a'} | ${pct(m.sampled_ratio, inverse)} |`,
    `| ${label}, every request traced | ${m.off ?? 'n/a'}${unit} | ${m.all ?? 'n/a'}${unit} | ${m.all_ratio ?? 'n/a'} | ${pct(m.all_ratio, inverse)} |`,
  ];
  return [
    '',
    '### Observability overhead (tracing and metrics on ÷ off, same run)',
    '',
    `On: tracing on, spans exported (${o.exporter}), the three /metrics endpoints scraped every ${o.scrape_interval_s} s; "default sampling" keeps ${o.sampling}, "every request traced" sends a sampled traceparent with each request. Off: no tracing, nobody scraping. Runs alternated off, sampled, all, all, sampled, off; medians. Goal: ${o.goal}.`,
    '',
    '| measure | off | on | on ÷ off | overhead |',
    '|---|---:|---:|---:|---:|',
    ...row('signup p50, 1 connection', o.signup_c1, ' ms', false),
    ...row('/me req/s, 50 connections', o.me_c50, '', true),
  ];
}
