import type { SupervisedProcess } from '../../testkit/supervisor';
import { sleep } from '../../testkit/wait';
import type { Bench } from '../context';
import { runLoad, type ScenarioResult } from '../lib/load';
import { groupRssMb, slope } from '../lib/rss';
import { scrape, total } from '../../testkit/metrics';
import type { Sut } from '../systems';

/** Our long-lived processes by the names infra.startAll gives them. */
const OURS = ['api', 'worker', 'db-processor'] as const;
export const WORKER_RSS_TARGET_MB = 300;

export type RssByProcess = Record<(typeof OURS)[number], number | null>;

export function rssOfOurs(ctx: Bench): RssByProcess {
  const byName = (n: string): SupervisedProcess | undefined => ctx.procs.find((p) => p.name === n && p.running);
  return Object.fromEntries(OURS.map((n) => [n, groupRssMb(byName(n)?.pid)])) as RssByProcess;
}

/** The processes that serve /metrics beside /health in the bench (the API's metrics port is off there). */
const WITH_METRICS = ['worker', 'db-processor'] as const;
/** V8 heap in use (MB) of each of them. */
export type HeapByProcess = Pick<RssByProcess, (typeof WITH_METRICS)[number]>;

export interface SoakSample extends RssByProcess {
  t_s: number;
  heap_mb: HeapByProcess;
  /** Signups answered 202 so far, and their codes found in MailDev: the difference is the mail backlog. */
  accepted: number;
  delivered: number | null;
}

/**
 * After the warm-up: the first and last reading, the maximum, the least-squares slope, and the maximum
 * of each half. Node's memory is a sawtooth (a major GC, malloc returning pages), so a slope drawn
 * from a trough to a peak reads as growth; a second half whose peak is no higher than the first's does not grow.
 */
type Trend = {
  after_warmup_mb: number | null;
  end_mb: number | null;
  max_mb: number | null;
  slope_mb_per_min: number | null;
  max_first_half_mb: number | null;
  max_second_half_mb: number | null;
};

export interface SoakReport {
  minutes: number;
  warmup_s: number;
  sample_every_s: number;
  /** Signups a second the load offers (autocannon's overall rate); null: as fast as 20 connections go. */
  signup_rate: number | null;
  samples: SoakSample[];
  /** Per process: RSS at the end of the warm-up, at the end, the maximum, and the least-squares slope after the warm-up (MB per minute). */
  summary: Record<string, Trend>;
  /** The same for the V8 heap in use, which tells a growing JavaScript heap from memory outside V8. */
  heap_summary: Record<string, Trend>;
  /** Signups accepted and codes found in MailDev after the warm-up and at the end of the load: a growing difference is a backlog. */
  backlog: { after_warmup: Pick<SoakSample, 'accepted' | 'delivered'> | null; end: Pick<SoakSample, 'accepted' | 'delivered'> | null };
  load: ScenarioResult[];
  worker_target_mb: number;
}

async function heapMb(port: number): Promise<number | null> {
  try {
    const used = total(await scrape(`http://127.0.0.1:${port}/metrics`), 'nodejs_heap_size_used_bytes');
    return Math.round((used / 1024 / 1024) * 10) / 10;
  } catch {
    return null;
  }
}

function trend(samples: readonly SoakSample[], warmupS: number, read: (s: SoakSample) => number | null): Trend {
  const after = samples.filter((s) => s.t_s >= warmupS && read(s) !== null);
  const ys = after.map((s) => read(s) as number);
  const perS = slope(after.map((s) => ({ t: s.t_s, y: read(s) as number })));
  const mid = after.length ? (after[0].t_s + after[after.length - 1].t_s) / 2 : 0;
  const maxOf = (xs: SoakSample[]) => (xs.length ? Math.max(...xs.map((s) => read(s) as number)) : null);
  return {
    after_warmup_mb: ys[0] ?? null,
    end_mb: ys[ys.length - 1] ?? null,
    max_mb: ys.length ? Math.max(...ys) : null,
    slope_mb_per_min: perS === null ? null : Math.round(perS * 60 * 100) / 100,
    max_first_half_mb: maxOf(after.filter((s) => s.t_s <= mid)),
    max_second_half_mb: maxOf(after.filter((s) => s.t_s > mid)),
  };
}

/** The summaries of a soak's samples (also used to re-read a committed soak.json). */
export function summariseSoak(samples: readonly SoakSample[], warmupS: number): Pick<SoakReport, 'summary' | 'heap_summary' | 'backlog'> {
  const summary: SoakReport['summary'] = {};
  for (const n of OURS) summary[n] = trend(samples, warmupS, (s) => s[n]);
  const heap_summary: SoakReport['heap_summary'] = {};
  for (const n of WITH_METRICS) heap_summary[n] = trend(samples, warmupS, (s) => s.heap_mb[n]);
  const counts = (s: SoakSample | undefined) => (s ? { accepted: s.accepted, delivered: s.delivered } : null);
  return { summary, heap_summary, backlog: { after_warmup: counts(samples.find((s) => s.t_s >= warmupS)), end: counts(samples[samples.length - 1]) } };
}

/**
 * `npm run bench -- --soak`: ours alone under steady load for `minutes` (signups at `rate` a second
 * over 20 connections, which work the API, the worker, Temporal, Kafka and the DB processor, and /me
 * at 10 connections on sessions made before). Every 15 s: the RSS of each of our processes, the V8
 * heap in use of the worker and the DB processor, and the signups accepted against the codes
 * delivered. A load above what the machine mails end to end grows a backlog, and memory with it;
 * paced below it, growth that remains is the processes' own. Growth is reported as the slope after
 * a two-minute warm-up (JIT, pools, caches filling), judged by a reader, never asserted.
 */
export async function soak(ctx: Bench, ours: Sut, minutes: number, rate: number | null): Promise<SoakReport> {
  const everyS = 15;
  const warmupS = Math.min(120, (minutes * 60) / 4);
  const samples: SoakSample[] = [];
  const t0 = Date.now();
  let accepted = 0;
  const needle = ctx.needle(ours, 'soak');
  const sample = async (): Promise<void> => {
    const t_s = Math.round((Date.now() - t0) / 1000);
    const rss = rssOfOurs(ctx);
    const [worker, dbp, delivered] = await Promise.all([heapMb(ctx.ports.worker), heapMb(ctx.ports.dbp), ctx.mail.count(needle).catch(() => null)]);
    samples.push({ t_s, ...rss, heap_mb: { worker, 'db-processor': dbp }, accepted, delivered });
  };
  let sampling = sample();
  const sampler = setInterval(() => {
    sampling = sampling.then(sample);
  }, everyS * 1000);
  const sessions = [...ours.sessions];
  const durationS = minutes * 60;
  try {
    const load = await Promise.all([
      runLoad({
        system: 'ours', name: 'soak_signup', url: ours.url, method: 'POST', path: ours.signup.path,
        concurrency: 20, durationS, timeoutS: 30, expect: ours.signup.expect, ...(rate ? { rate } : {}),
        build: (i) => ({ body: ours.signup.body(ctx.address(ours, 'soak', i)) }),
        onResponse: () => {
          accepted += 1;
        },
      }),
      sessions.length
        ? runLoad({
            system: 'ours', name: 'soak_me', url: ours.url, method: 'GET', path: ours.me.path,
            concurrency: 10, durationS, expect: ours.me.expect,
            build: (i) => ({ headers: { cookie: sessions[i % sessions.length] } }),
          })
        : sleep(durationS * 1000).then(() => undefined),
    ]);
    clearInterval(sampler);
    await sampling;
    await sample();
    return {
      minutes, warmup_s: warmupS, sample_every_s: everyS, signup_rate: rate, samples, ...summariseSoak(samples, warmupS),
      load: load.filter((r): r is ScenarioResult => !!r), worker_target_mb: WORKER_RSS_TARGET_MB,
    };
  } finally {
    clearInterval(sampler);
  }
}

const counted = (c: Pick<SoakSample, 'accepted' | 'delivered'> | null) => (c ? `${c.accepted} / ${c.delivered ?? '–'}` : '–');

export function soakMarkdown(r: SoakReport): string {
  return [
    `## Soak: ${r.minutes} min of steady load on ours`,
    '',
    `Signups ${r.signup_rate ? `offered at ${r.signup_rate}/s over` : 'as fast as'} 20 connections and /me at 10; every ${r.sample_every_s} s the RSS of each process, the V8 heap in use of the worker and the DB processor, and the signups accepted against the codes in MailDev; slopes by least squares after a ${r.warmup_s} s warm-up. Worker target: ≤ ${r.worker_target_mb} MB and no growth.`,
    '',
    'Memory is a sawtooth (major GCs, pages returned), so a slope from a trough to a peak reads as growth: the maximum of each half after the warm-up is the steadier reading (a second half no higher than the first does not grow).',
    '',
    '| process | RSS after warm-up (MB) | at the end | max, 1st half / 2nd half | slope (MB/min) | V8 heap after warm-up (MB) | at the end | max, 1st half / 2nd half | slope (MB/min) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...Object.entries(r.summary).map(([n, s]) => {
      const h = r.heap_summary[n];
      const halves = (t: Trend | undefined) => (t ? `${t.max_first_half_mb ?? '–'} / ${t.max_second_half_mb ?? '–'}` : '–');
      return `| ${n} | ${s.after_warmup_mb ?? '–'} | ${s.end_mb ?? '–'} | ${halves(s)} | ${s.slope_mb_per_min ?? '–'} | ${h?.after_warmup_mb ?? '–'} | ${h?.end_mb ?? '–'} | ${halves(h)} | ${h?.slope_mb_per_min ?? '–'} |`;
    }),
    '',
    `The V8 heap is the main thread's (prom-client's nodejs_heap_size_used_bytes); the worker's workflow thread has its own, inside RSS.`,
    `Signups accepted and codes in MailDev: ${counted(r.backlog.after_warmup)} after the warm-up, ${counted(r.backlog.end)} at the end of the load (a code mailed again after an SMTP retry counts twice).`,
    '',
    ...r.load.map((l) => `- ${l.name}: ${l.rps} req/s, p50 ${l.p50_ms} ms, p99 ${l.p99_ms} ms, ${l.errors} errors`),
  ].join('\n');
}
