import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bench } from './context';
import type { BcryptFloor } from './lib/floor';
import { chartSvg, ratios, ratioTable, scenarioTable, targetTable, type TargetRow } from './lib/report';
import { observabilityMarkdown } from './scenarios/observability';
import { cpuLine, type Throughput } from './scenarios/signup';
import { topologyMarkdown } from './scenarios/temporal-topology';
import { WORKER_RSS_TARGET_MB, type SoakReport } from './scenarios/memory';

/** The results of a run: the targets judged, the JSON, the Markdown summary and the chart. */

export function targets(ctx: Bench, floor: BcryptFloor, tp: Throughput | undefined): TargetRow[] {
  const get = (name: string, c: number) => ctx.results.find((r) => r.system === 'ours' && r.name === name && r.concurrency === c);
  const [c1, cN] = ctx.plan.concurrency;
  const rows: TargetRow[] = [];
  const le = (name: string, target: string, v: number | null | undefined, limit: number, unit = 'ms', detail?: string) =>
    rows.push({ name, target, value: v ?? null, unit, met: v === null || v === undefined ? null : v <= limit, ...(detail ? { detail } : {}) });
  const signup1 = get('signup', c1);
  const signupN = get('signup', cN);
  const stalled1 = get('signup_smtp_stalled', c1);
  const stalledN = get('signup_smtp_stalled', cN);
  le(`signup p50, SMTP healthy, c=${c1}`, '≤ 20 ms', signup1?.p50_ms, 20);
  le(`signup p50, SMTP stalled, c=${c1}`, '≤ 20 ms', stalled1?.p50_ms, 20);
  le(`signup p50, SMTP healthy, c=${cN}`, '≤ 20 ms', signupN?.p50_ms, 20);
  le(`signup p50, SMTP stalled, c=${cN}`, '≤ 20 ms', stalledN?.p50_ms, 20);
  const v1 = get('verify', c1);
  le(`verify p50 − bcrypt hash, c=${c1}`, '≤ 20 ms', v1?.p50_ms === null || !v1 ? null : Math.round((v1.p50_ms - floor.hash_ms) * 100) / 100, 20, 'ms', v1?.p50_ms != null ? `p50 ${v1.p50_ms} − hash ${floor.hash_ms}` : undefined);
  const s1 = get('signin', c1);
  le(`signin p50 − bcrypt compare, c=${c1}`, '≤ 10 ms', s1?.p50_ms === null || !s1 ? null : Math.round((s1.p50_ms - floor.compare_ms) * 100) / 100, 10, 'ms', s1?.p50_ms != null ? `p50 ${s1.p50_ms} − compare ${floor.compare_ms}` : undefined);
  const m1 = get('me', c1);
  const mN = get('me', cN);
  le(`/me p50, c=${c1}`, '≤ 2 ms', m1?.p50_ms, 2);
  const workerMb = ctx.memory?.worker ?? null;
  rows.push({ name: 'worker RSS after the sustained run', target: `≤ ${WORKER_RSS_TARGET_MB} MB`, value: workerMb, unit: 'MB', met: workerMb === null ? null : workerMb <= WORKER_RSS_TARGET_MB });
  rows.push({ name: `/me throughput, c=${cN}`, target: '≥ 3,000 req/s', value: mN?.rps ?? null, unit: 'req/s', met: mN ? mN.rps >= 3000 : null, ...(mN ? { detail: `p50 ${mN.p50_ms} ms at c=${cN}` } : {}) });
  const sN = get('signin', cN);
  const ratio = sN ? Math.round((sN.rps / floor.compares_per_s_parallel) * 1000) / 1000 : null;
  rows.push({
    name: `signin throughput ÷ bcrypt-only, c=${cN}`, target: '≥ 0.9', value: ratio, unit: '×', met: ratio === null ? null : ratio >= 0.9,
    ...(sN ? { detail: `${sN.rps} signins/s vs ${floor.compares_per_s_parallel} compares/s (${floor.parallel} parallel)` } : {}),
  });
  if (tp) {
    const allDelivered = tp.all_codes_delivered_s !== null;
    rows.push({
      name: `sustained signups with every code delivered (${tp.duration_s.toFixed(0)} s at c=${tp.concurrency})`,
      target: '≥ 100 signups/s',
      value: tp.delivered_per_s_end_to_end ?? tp.signups_per_s,
      unit: '/s',
      met: allDelivered && tp.signups_per_s >= 100 && (tp.delivered_per_s_end_to_end ?? 0) >= 100,
      detail: `accepted ${tp.signups_per_s}/s; ${tp.delivered}/${tp.accepted} codes delivered${allDelivered ? `, the last ${tp.all_codes_delivered_s} s after the load ended; end to end ${tp.delivered_per_s_end_to_end}/s` : ` within ${tp.drain_bound_s} s after the load`}`,
    });
  }
  return rows;
}


export function buildOutput(ctx: Bench, floor: BcryptFloor, startupS: number, load0: number[], oursTp: Throughput | undefined, peerTp: Throughput[], cleanup: string[]) {
  const cpus = os.cpus();
  return {
    run: ctx.run,
    mode: ctx.quick ? 'quick' : 'default',
    date: new Date(ctx.t0).toISOString(),
    total_s: Math.round(ctx.elapsedS()),
    machine: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? 'unknown',
      mem_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      os: `${os.type()} ${os.release()}`,
      loadavg_start: load0.map((x) => Math.round(x * 100) / 100),
      loadavg_end: os.loadavg().map((x) => Math.round(x * 100) / 100),
      temporal_open_workflows_at_start: ctx.openWorkflowsAtStart ?? null,
    },
    settings: {
      bcrypt_cost: ctx.cost,
      rate_limits_enabled: false,
      log_level: 'warn',
      ours: {
        api: `127.0.0.1:${ctx.ports.api}`, worker_health: ctx.ports.worker, db_processor_health: ctx.ports.dbp, task_queue: ctx.queue,
        stalled: { api: `127.0.0.1:${ctx.ports.apiStalled}`, worker_health: ctx.ports.workerStalled, task_queue: ctx.queueStalled, smtp: `TCP server on 127.0.0.1:${ctx.stall?.port ?? '?'} that accepts and never answers` },
      },
      peers: ctx.noPeers
        ? 'not run (--no-peers)'
        : {
            direct: 'bench/baselines/direct/server.ts: Express + pg + bcrypt + nodemailer; signup answers after SMTP; sessions in Redis; database cfd_auth_bench',
            'better-auth': 'bench/baselines/better-auth/server.ts: better-auth email-OTP plugin, bcrypt via its password hooks, Redis secondary storage (sessions, OTPs), mail not awaited; database cfd_auth_bench',
          },
      plan: ctx.plan,
      startup_s: startupS,
    },
    bcrypt: floor,
    scenarios: ctx.results,
    throughput: oursTp ? { ...oursTp, peers: peerTp } : null,
    ratios: ratios(ctx.results),
    observability: ctx.observability ?? null,
    targets: targets(ctx, floor, oursTp),
    temporal_topology: ctx.topology ?? null,
    memory_after_sustained_mb: ctx.memory ?? null,
    skipped: ctx.skipped,
    cleanup,
  };
}

export function markdown(ctx: Bench, out: ReturnType<typeof buildOutput>, floor: BcryptFloor, oursTp: Throughput | undefined, peerTp: Throughput[]): string {
  const sustained = [oursTp, ...peerTp].filter((t): t is Throughput => !!t);
  return [
    `## Benchmark, ${out.mode} run ${ctx.run} (${out.date})`,
    '',
    `Machine: ${out.machine.cpus} × ${out.machine.cpu_model}, ${out.machine.mem_gb} GB, Node ${out.machine.node}; load average ${out.machine.loadavg_start[0]} at the start, ${out.machine.loadavg_end[0]} at the end (the cores are shared with other work: compare systems within this run only); ${out.machine.temporal_open_workflows_at_start ?? 'an unknown number of'} open workflows on the Temporal server at the start. Total ${out.total_s} s.`,
    `Our API ran with RATE_LIMITS_ENABLED=false (rate limits off for the benchmark), LOG_LEVEL=warn, BCRYPT_COST=${ctx.cost}; both peers use the same bcrypt cost, the same Postgres server (database cfd_auth_bench) and the same Redis.`,
    `bcrypt floor at cost ${ctx.cost}: hash ${floor.hash_ms} ms, compare ${floor.compare_ms} ms (medians); ${floor.compares_per_s_parallel} compares/s with ${floor.parallel} in parallel.`,
    '',
    scenarioTable(ctx.results, floor),
    '',
    '### Ours ÷ peer (latency: below 1 is better; req/s: above 1 is better)',
    '',
    ratioTable(out.ratios),
    ...observabilityMarkdown(ctx.observability),
    '',
    '### Sustained signups',
    '',
    ...sustained.map(
      (t) =>
        `- ${t.system}: ${t.signups_per_s} signups/s accepted for ${t.duration_s} s at c=${t.concurrency} (${t.errors} errors); ${t.delivered}/${t.accepted} codes in MailDev${t.all_codes_delivered_s === null ? ` within ${t.drain_bound_s} s after the load (not all)` : `, the last ${t.all_codes_delivered_s} s after the load ended (${t.delivered_per_s_end_to_end}/s end to end)`}; ${t.duplicate_codes ?? 'unknown'} duplicate codes.`,
    ),
    ...sustained.map((t) => cpuLine(t)).filter((l): l is string => !!l),
    '',
    ...(ctx.memory ? [`Memory (RSS) of our processes at the end of the sustained run: ${Object.entries(ctx.memory).map(([n, mb]) => `${n} ${mb ?? '–'} MB`).join(', ')} (worker target ≤ ${WORKER_RSS_TARGET_MB} MB; growth over time: \`npm run bench -- --soak\`).`, ''] : []),
    ...topologyMarkdown(ctx.topology),
    '',
    '### Targets (ours)',
    '',
    targetTable(out.targets),
    '',
    ...(ctx.skipped.length ? [`Skipped for time: ${ctx.skipped.join('; ')}.`, ''] : []),
    ...ctx.results.filter((r) => r.note).map((r) => `- ${r.system} ${r.name} c=${r.concurrency}: ${r.note}`),
    '',
    `Chart: ${ctx.outName}.svg.${out.cleanup.length ? ` Cleanup: ${out.cleanup.join('; ')}.` : ''}`,
  ].join('\n');
}

export function writeResults(ctx: Bench, out: ReturnType<typeof buildOutput>, md: string): void {
  mkdirSync(ctx.resultsDir, { recursive: true });
  writeFileSync(path.join(ctx.resultsDir, `${ctx.outName}.json`), JSON.stringify(out, null, 2) + '\n');
  writeFileSync(path.join(ctx.resultsDir, `${ctx.outName}.md`), md + '\n');
  writeFileSync(path.join(ctx.resultsDir, `${ctx.outName}.svg`), chartSvg(ctx.results, `cfd-broker-auth benchmark (${out.mode} run, bcrypt cost ${ctx.cost}, ${out.date.slice(0, 10)})`) + '\n');
}

export function writeSoak(ctx: Bench, report: SoakReport, md: string): void {
  mkdirSync(ctx.resultsDir, { recursive: true });
  const out = { run: ctx.run, date: new Date(ctx.t0).toISOString(), machine: { cpus: os.cpus().length, node: process.version, loadavg_end: os.loadavg() }, ...report };
  writeFileSync(path.join(ctx.resultsDir, `${ctx.outName}.json`), JSON.stringify(out, null, 2) + '\n');
  writeFileSync(path.join(ctx.resultsDir, `${ctx.outName}.md`), md + '\n');
}
