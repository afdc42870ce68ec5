import type { SupervisedProcess } from '../../testkit/supervisor';
import { sleep } from '../../testkit/wait';
import type { Bench } from '../context';
import { runLoad, type ScenarioResult } from '../lib/load';
import { groupRssMb, slope } from '../lib/rss';
import type { Sut } from '../systems';

/** Our long-lived processes by the names infra.startAll gives them. */
const OURS = ['api', 'worker', 'db-processor'] as const;
export const WORKER_RSS_TARGET_MB = 300;

export type RssByProcess = Record<(typeof OURS)[number], number | null>;

export function rssOfOurs(ctx: Bench): RssByProcess {
  const byName = (n: string): SupervisedProcess | undefined => ctx.procs.find((p) => p.name === n && p.running);
  return Object.fromEntries(OURS.map((n) => [n, groupRssMb(byName(n)?.pid)])) as RssByProcess;
}

export interface SoakReport {
  minutes: number;
  warmup_s: number;
  sample_every_s: number;
  samples: ({ t_s: number } & RssByProcess)[];
  /** Per process: RSS at the end of the warm-up, at the end, the maximum, and the least-squares slope after the warm-up (MB per minute). */
  summary: Record<string, { after_warmup_mb: number | null; end_mb: number | null; max_mb: number | null; slope_mb_per_min: number | null }>;
  load: ScenarioResult[];
  worker_target_mb: number;
}

/**
 * `npm run bench -- --soak`: ours alone under steady load for `minutes` (signups at 20 connections,
 * which work the API, the worker, Temporal, Kafka and the DB processor, and /me at 10 connections on
 * sessions made before), the RSS of each of our processes sampled every 15 s. Growth is reported as
 * the slope after a two-minute warm-up (JIT, pools, caches filling), judged by a reader, never asserted.
 */
export async function soak(ctx: Bench, ours: Sut, minutes: number): Promise<SoakReport> {
  const everyS = 15;
  const warmupS = Math.min(120, (minutes * 60) / 4);
  const samples: SoakReport['samples'] = [];
  const t0 = Date.now();
  const sampler = setInterval(() => samples.push({ t_s: Math.round((Date.now() - t0) / 1000), ...rssOfOurs(ctx) }), everyS * 1000);
  samples.push({ t_s: 0, ...rssOfOurs(ctx) });
  const sessions = [...ours.sessions];
  const durationS = minutes * 60;
  try {
    const load = await Promise.all([
      runLoad({
        system: 'ours', name: 'soak_signup', url: ours.url, method: 'POST', path: ours.signup.path,
        concurrency: 20, durationS, timeoutS: 30, expect: ours.signup.expect,
        build: (i) => ({ body: ours.signup.body(ctx.address(ours, 'soak', i)) }),
      }),
      sessions.length
        ? runLoad({
            system: 'ours', name: 'soak_me', url: ours.url, method: 'GET', path: ours.me.path,
            concurrency: 10, durationS, expect: ours.me.expect,
            build: (i) => ({ headers: { cookie: sessions[i % sessions.length] } }),
          })
        : sleep(durationS * 1000).then(() => undefined),
    ]);
    samples.push({ t_s: Math.round((Date.now() - t0) / 1000), ...rssOfOurs(ctx) });
    const summary: SoakReport['summary'] = {};
    for (const n of OURS) {
      const after = samples.filter((s) => s.t_s >= warmupS && s[n] !== null);
      const ys = after.map((s) => s[n] as number);
      const perS = slope(after.map((s) => ({ t: s.t_s, y: s[n] as number })));
      summary[n] = {
        after_warmup_mb: ys[0] ?? null,
        end_mb: ys[ys.length - 1] ?? null,
        max_mb: ys.length ? Math.max(...ys) : null,
        slope_mb_per_min: perS === null ? null : Math.round(perS * 60 * 100) / 100,
      };
    }
    return { minutes, warmup_s: warmupS, sample_every_s: everyS, samples, summary, load: load.filter((r): r is ScenarioResult => !!r), worker_target_mb: WORKER_RSS_TARGET_MB };
  } finally {
    clearInterval(sampler);
  }
}

export function soakMarkdown(r: SoakReport): string {
  return [
    `## Soak: ${r.minutes} min of steady load on ours`,
    '',
    `Signups at 20 connections and /me at 10, RSS of each process every ${r.sample_every_s} s; slope by least squares after a ${r.warmup_s} s warm-up. Worker target: ≤ ${r.worker_target_mb} MB and no growth.`,
    '',
    '| process | RSS after warm-up (MB) | at the end | max | slope (MB/min) |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(r.summary).map(([n, s]) => `| ${n} | ${s.after_warmup_mb ?? '–'} | ${s.end_mb ?? '–'} | ${s.max_mb ?? '–'} | ${s.slope_mb_per_min ?? '–'} |`),
    '',
    ...r.load.map((l) => `- ${l.name}: ${l.rps} req/s, p50 ${l.p50_ms} ms, p99 ${l.p99_ms} ms, ${l.errors} errors`),
  ].join('\n');
}
