import type { Bench } from '../context';
import { runLoad, type System } from '../lib/load';
import { cpuPerUnit, cpuSnapshot, type CpuSnapshot } from '../lib/rss';
import { headersFor, type Sut } from '../systems';
import type { SupervisedProcess } from '../../testkit/supervisor';
import { sleep } from '../../testkit/wait';

export async function scenarioSignup(ctx: Bench, sut: Sut, c: number, stalled: boolean): Promise<void> {
  const purpose = `${stalled ? 'st' : 'su'}${c}`;
  const r = await runLoad({
    system: sut.system,
    name: stalled ? 'signup_smtp_stalled' : 'signup',
    url: stalled ? sut.stalledUrl : sut.url,
    method: 'POST',
    path: sut.signup.path,
    headers: headersFor(sut, stalled ? sut.stalledUrl : sut.url),
    concurrency: c,
    durationS: stalled ? ctx.plan.stallS : c === 1 ? ctx.plan.c1S : ctx.plan.cNS,
    timeoutS: stalled ? ctx.plan.stallTimeoutS : 30,
    expect: sut.signup.expect,
    build: (i) => ({ body: sut.signup.body(ctx.address(sut, purpose, i)) }),
  });
  ctx.results.push(r);
  if (!stalled) ctx.owed.set(sut.system, [...(ctx.owed.get(sut.system) ?? []), { needle: ctx.needle(sut, purpose), expected: r.ok }]);
  ctx.log(`${r.name} ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors`);
}


export interface Throughput {
  system: System;
  concurrency: number;
  duration_s: number;
  accepted: number;
  /** Requests sent; those in flight when the window closed may have been accepted too. */
  sent: number;
  errors: number;
  signups_per_s: number;
  delivered: number;
  /** Seconds after the load ended until every accepted signup's code was in MailDev (null: not within the bound). */
  all_codes_delivered_s: number | null;
  /** Codes delivered per second from the start of the load to the last delivery. */
  delivered_per_s_end_to_end: number | null;
  drain_bound_s: number;
  /** Mails beyond the first to one address (each signup asks for one code): must be 0; null when MailDev could not be listed. */
  duplicate_codes: number | null;
  /**
   * CPU (ms) per accepted signup of the system's processes, the stack's services and the whole
   * machine (`machine`), from the start of the load until the last code was in MailDev (or the drain
   * bound): where a signup's work goes, all of it. Absent when no processes were named.
   */
  cpu_ms_per_signup?: CpuSnapshot;
}

/** Our three processes' names, as the bench starts them. */
export const OURS_PROCS = ['api', 'worker', 'db-processor'];

/** The process groups (pgid) of the running processes named so (plus `suffix`: a twin's), by name (scenarioThroughput's `counted`). */
export function pgids(procs: readonly SupervisedProcess[], names: readonly string[], suffix = ''): Record<string, number | undefined> {
  return Object.fromEntries(names.map((n) => [n, procs.find((p) => p.name === `${n}${suffix}` && p.running)?.pid]));
}

/** `counted`: the system's own process groups by name (pgid), whose CPU is reported with the stack's. */
export async function scenarioThroughput(ctx: Bench, sut: Sut, durationS: number, drainMaxS: number, counted?: Record<string, number | undefined>): Promise<Throughput> {
  const c = 50;
  const purpose = 'tp';
  const cpuBefore = counted && cpuSnapshot(counted);
  const r = await runLoad({
    system: sut.system, name: 'signup_throughput', url: sut.url, method: 'POST', path: sut.signup.path, headers: sut.headers,
    concurrency: c, durationS, timeoutS: 30, expect: sut.signup.expect,
    build: (i) => ({ body: sut.signup.body(ctx.address(sut, purpose, i)) }),
  });
  ctx.results.push(r);
  const loadEnd = Date.now();
  const accepted = r.ok;
  ctx.log(`signup_throughput ${sut.system}: ${accepted} accepted in ${r.duration_s} s (${r.rps}/s, ${r.errors} errors); waiting for the codes (≤ ${drainMaxS.toFixed(0)} s)`);
  let delivered = 0;
  let doneAt: number | null = null;
  const until = loadEnd + drainMaxS * 1000;
  for (;;) {
    try {
      delivered = await ctx.mail.count(ctx.needle(sut, purpose));
    } catch {
      // MailDev busy
    }
    if (delivered >= accepted) {
      doneAt = Date.now();
      break;
    }
    if (Date.now() >= until) break;
    await sleep(500);
  }
  const cpu = counted && cpuBefore ? cpuPerUnit(cpuBefore, cpuSnapshot(counted), accepted) : undefined;
  const drainS = doneAt === null ? null : (doneAt - loadEnd) / 1000;
  let duplicates: number | null = null;
  try {
    const mails = await ctx.mail.list(ctx.needle(sut, purpose));
    duplicates = mails.length - new Set(mails.map((m) => m.to)).size;
  } catch {
    // MailDev busy: reported as unknown
  }
  const t: Throughput = {
    system: sut.system,
    concurrency: c,
    duration_s: r.duration_s,
    accepted,
    sent: r.sent ?? accepted,
    errors: r.errors,
    signups_per_s: r.rps,
    delivered,
    all_codes_delivered_s: drainS === null ? null : Math.round(drainS * 10) / 10,
    delivered_per_s_end_to_end: drainS === null ? null : Math.round((delivered / (r.duration_s + drainS)) * 10) / 10,
    drain_bound_s: Math.round(drainMaxS),
    duplicate_codes: duplicates,
    ...(cpu ? { cpu_ms_per_signup: cpu } : {}),
  };
  ctx.log(`signup_throughput ${sut.system}: ${delivered}/${accepted} codes delivered${drainS === null ? ` (bound of ${drainMaxS.toFixed(0)} s reached)` : ` ${drainS.toFixed(1)} s after the load ended`}`);
  return t;
}

/**
 * Where the CPU of a sustained run went, per accepted signup (ms): each process counted, the rest
 * of the machine (the load generator, the bench, anything else), and the whole machine; the largest
 * share named (`where`: which set-up, when there are several). Undefined when the run counted no CPU.
 */
export function cpuLine(t: Throughput, where = ''): string | undefined {
  const cpu = t.cpu_ms_per_signup;
  if (!cpu) return undefined;
  const { machine, ...parts } = cpu;
  // A process that used nothing did not run (the other topology's Temporal server).
  const known = Object.entries(parts).filter((e): e is [string, number] => e[1] !== null && e[1] > 0);
  const listed = `- ${t.system}${where ? ` ${where}` : ''}, CPU per accepted signup from the load's start to its last code (ms): ${known.map(([n, ms]) => `${n} ${ms}`).join(', ')}`;
  if (machine === null || machine === undefined || machine <= 0) return `${listed}.`;
  const rest = Math.max(0, Math.round((machine - known.reduce((a, [, ms]) => a + ms, 0)) * 100) / 100);
  const [top, topMs] = known.reduce((a, b) => (b[1] > a[1] ? b : a), ['', -1] as [string, number]);
  return `${listed}, rest of the machine ${rest}; whole machine ${machine}${top ? `, of which ${top} ${Math.round((topMs / machine) * 100)} %` : ''}.`;
}
