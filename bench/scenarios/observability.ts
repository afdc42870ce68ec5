import { OtlpSink } from '../../testkit/otlp-sink';
import type { SupervisedProcess } from '../../testkit/supervisor';
import type { Bench } from '../context';
import { startTwin, twinReady } from '../lib/twin';
import { runLoad, type ScenarioResult } from '../lib/load';
import type { Sut } from '../systems';

/**
 * The cost of observability, measured in the same run: our system as the other scenarios run it
 * (tracing off, nobody scraping /metrics) against a twin with tracing on (every span exported over
 * OTLP/HTTP: to the local Jaeger when it answers, otherwise to an in-process sink) and its three
 * /metrics endpoints scraped every second. prom-client counts in both: recording cannot be turned
 * off, so "off" means not scraped. Same stack, same sessions (Redis is shared), runs alternated
 * off, on, on, off so a drift of the shared machine falls on both sides.
 */
export interface ObservabilityOverhead {
  exporter: string;
  scrape_interval_s: number;
  signup_c1: { off_p50_ms: number | null; on_p50_ms: number | null; ratio: number | null };
  me_c50: { off_rps: number; on_rps: number; ratio: number | null };
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
  const { procs } = startTwin(ctx, 'obs', { ...baseEnv, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, TEMPORAL_TASK_QUEUE: `${ctx.queue}-obs`, API_METRICS_PORT: String(ctx.ports.obsMetrics) }, obsPorts(ctx));
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
  try {
    let n = 0;
    for (const on of [false, true, true, false]) {
      const url = on ? onUrl : ours.url;
      const purpose = `ob${on ? 'n' : 'f'}${n++}`;
      const signup = await runLoad({
        system: 'ours', name: on ? 'signup_observed' : 'signup_unobserved', url, method: 'POST', path: ours.signup.path,
        concurrency: 1, durationS: ctx.plan.c1S, expect: ours.signup.expect,
        build: (i) => ({ body: ours.signup.body(ctx.address(ours, purpose, i)) }),
      });
      runs.push(signup);
      const sessions = [...ours.sessions];
      if (sessions.length > 0) {
        runs.push(await runLoad({
          system: 'ours', name: on ? 'me_observed' : 'me_unobserved', url, method: 'GET', path: ours.me.path,
          concurrency: 50, durationS: ctx.plan.cNS, expect: ours.me.expect,
          build: (i) => ({ headers: { cookie: sessions[i % sessions.length] } }),
        }));
      }
    }
  } finally {
    clearInterval(scraper);
  }
  const pick = (name: string, f: (r: ScenarioResult) => number | null) => median(runs.filter((r) => r.name === name).map(f));
  const offP50 = pick('signup_unobserved', (r) => r.p50_ms);
  const onP50 = pick('signup_observed', (r) => r.p50_ms);
  const offRps = pick('me_unobserved', (r) => r.rps) ?? 0;
  const onRps = pick('me_observed', (r) => r.rps) ?? 0;
  ctx.observability = {
    exporter,
    scrape_interval_s: scrapeS,
    signup_c1: { off_p50_ms: round(offP50, 2), on_p50_ms: round(onP50, 2), ratio: offP50 && onP50 !== null ? round(onP50 / offP50) : null },
    me_c50: { off_rps: round(offRps, 1) ?? 0, on_rps: round(onRps, 1) ?? 0, ratio: offRps > 0 ? round(onRps / offRps) : null },
    goal: 'signup p50 on ÷ off ≤ 1.05; /me req/s on ÷ off ≥ 0.95',
    runs,
  };
  const o = ctx.observability;
  ctx.log(`observability: signup c=1 p50 off ${offP50} ms, on ${onP50} ms (×${o.signup_c1.ratio}); me c=50 off ${offRps} req/s, on ${onRps} req/s (×${o.me_c50.ratio}); exporter ${exporter}`);
}

export function observabilityMarkdown(o: ObservabilityOverhead | undefined): string[] {
  if (!o) return [];
  const pct = (r: number | null, inverse = false) => (r === null ? 'n/a' : `${(((inverse ? 1 / r : r) - 1) * 100).toFixed(1)} %`);
  return [
    '',
    '### Observability overhead (tracing and metrics on ÷ off, same run)',
    '',
    `On: every span exported (${o.exporter}), the three /metrics endpoints scraped every ${o.scrape_interval_s} s. Off: no tracing, nobody scraping. Runs alternated off, on, on, off; medians. Goal: ${o.goal}.`,
    '',
    '| measure | off | on | on ÷ off | overhead |',
    '|---|---:|---:|---:|---:|',
    `| signup p50, 1 connection | ${o.signup_c1.off_p50_ms ?? 'n/a'} ms | ${o.signup_c1.on_p50_ms ?? 'n/a'} ms | ${o.signup_c1.ratio ?? 'n/a'} | ${pct(o.signup_c1.ratio)} |`,
    `| /me req/s, 50 connections | ${o.me_c50.off_rps} | ${o.me_c50.on_rps} | ${o.me_c50.ratio ?? 'n/a'} | ${pct(o.me_c50.ratio, true)} |`,
  ];
}
