/**
 * npm run chaos [-- --quick] [-- --only <scenario>[,<scenario>]] [-- --n 30] [-- --out <file>]
 *
 * Fault injection against the real processes: the API, the worker and the DB processor run as
 * separate OS processes (own process groups, killable with SIGKILL), on a task queue of their own,
 * against the local stack (scripts/stack.sh). For each scenario N signups are put at different
 * stages, the fault is injected and lifted, every verification is completed, and Postgres and
 * MailDev are checked: N accounts, no duplicates, none lost, every user got a usable code.
 *
 * Prints a table and writes bench/results/chaos.json (a run of every scenario) or
 * .data/chaos/chaos-<names>.json (--only). Exits 1 on any loss, duplicate or anomaly.
 *
 * The faults stop SMTP, Kafka and Temporal for a while: on a shared machine, point the run at a
 * second stack so nobody else's work is disturbed. CHAOS_STACK_ROOT=<dir> takes the infrastructure
 * (scripts/stack.sh, its .env, its .data/) from another checkout; our processes still run this one:
 *   git worktree add --detach /tmp/chaos-stack && ln -s "$PWD/node_modules" /tmp/chaos-stack/
 *   printf '%s\n' KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 TEMPORAL_PORT=17233 \
 *     TEMPORAL_UI_PORT=18233 SMTP_PORT=21025 MAILDEV_WEB_PORT=21080 >/tmp/chaos-stack/.env
 *   CHAOS_STACK_ROOT=/tmp/chaos-stack npm run chaos
 * (Postgres and Redis are shared: every scenario uses emails and keys of its own.)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTable, runScenario, type ScenarioResult } from './harness';
import { killAllManaged } from './lib/procs';
import { loadStackEnv, migrate, stackCommand } from './lib/stack';
import { log, REPO_ROOT } from './lib/util';
import { SCENARIOS } from './scenarios';
import { ChaosSystem } from './system';

function parseArgs(argv: string[]) {
  const args = { quick: false, only: [] as string[], n: 30, out: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--only') args.only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (a.startsWith('--only=')) args.only.push(...a.slice(7).split(',').filter(Boolean));
    else if (a === '--n') args.n = Number(argv[++i]);
    else if (a === '--out') args.out = argv[++i] ?? '';
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: npm run chaos -- [--quick] [--only ${SCENARIOS.map((s) => s.name).join('|')}] [--n 30] [--out file]\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.n) || args.n < 4 || args.n > 200) throw new Error('--n must be an integer from 4 to 200');
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const unknown = args.only.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const scenarios = args.only.length ? SCENARIOS.filter((s) => args.only.includes(s.name)) : SCENARIOS;
  const started = Date.now();
  // Whole-run bound: 19 min for all scenarios (18 quick), proportionally less for a subset.
  const budgetMs = Math.min(19 * 60_000, scenarios.length * (args.quick ? 3.5 : 4.5) * 60_000);
  const hardDeadline = started + budgetMs;

  const stack = loadStackEnv();
  log(`stack at ${stack.root}: kafka ${stack.KAFKA_BROKERS}, temporal ${stack.TEMPORAL_ADDRESS}, smtp ${stack.SMTP_URL}`);
  log('bringing the stack up (scripts/stack.sh up)');
  await stackCommand(stack, ['up'], 600_000);
  migrate(stack);

  const sys = await ChaosSystem.create(stack);
  log(`task queue ${sys.taskQueue}; API port ${sys.apiPort}; logs in ${path.relative(REPO_ROOT, sys.logDir)}`);
  const results: ScenarioResult[] = [];
  try {
    await sys.ensureUp();
    for (const scenario of scenarios) {
      if (Date.now() > hardDeadline - 60_000) {
        log(`${scenario.name}: skipped, the run's time budget is spent`);
        results.push({ ...emptyResult(scenario.name, scenario.fault, args.n), error: 'skipped: time budget spent' });
        continue;
      }
      log(`=== ${scenario.name}: ${scenario.fault}`);
      const r = await runScenario({ sys, stack, quick: args.quick, log }, scenario, { n: args.n, quick: args.quick, hardDeadline });
      results.push(r);
      log(`${scenario.name}: created ${r.created}/${r.expected}, duplicates ${r.duplicates}, lost ${r.lost}, recovery ${r.recovery_s ?? '-'} s, ${r.ok ? 'ok' : 'FAILED'}`);
      if (!r.ok) for (const a of r.anomalies.slice(0, 10)) log(`  anomaly: ${a}`);
    }
  } finally {
    await sys.close().catch(() => undefined);
  }

  const ok = results.every((r) => r.ok);
  const report = {
    generated_at: new Date().toISOString(),
    command: `npm run chaos${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    mode: args.quick ? 'quick' : 'full',
    n: args.n,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, mem_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    stack: {
      // "." is this checkout's stack (scripts/stack.sh); another path came from CHAOS_STACK_ROOT.
      root: stack.root === REPO_ROOT ? '.' : stack.root,
      kafka: stack.KAFKA_BROKERS,
      temporal: stack.TEMPORAL_ADDRESS,
      smtp: stack.SMTP_URL,
      maildev: stack.MAILDEV_URL,
      postgres: stack.DATABASE_URL.replace(/\/\/[^@]*@/, '//'),
      redis: stack.REDIS_URL,
    },
    settings: 'BCRYPT_COST=10 RESEND_COOLDOWN_S=10 RATE_LIMITS_ENABLED=false LOG_LEVEL=warn; every other setting at its default',
    columns: {
      expected: 'signups started (N)',
      created: 'accounts in Postgres for those emails',
      duplicates: 'extra rows for one (normalised) email',
      lost: 'signups without an account at the end',
      recovery_s: 'seconds from lifting the fault until the last of the N accounts was verified',
    },
    total_s: Math.round((Date.now() - started) / 1000),
    ok,
    scenarios: results,
  };
  const out = args.out || (args.only.length ? path.join(REPO_ROOT, '.data', 'chaos', `chaos-${args.only.join('_')}.json`) : path.join(REPO_ROOT, 'bench', 'results', 'chaos.json'));
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`\n${formatTable(results)}\n\n${ok ? 'chaos: every scenario passed' : 'chaos: FAILED'} in ${report.total_s} s; ${path.relative(REPO_ROOT, out)}\n`);
  return ok ? 0 : 1;
}

function emptyResult(scenario: string, fault: string, n: number): ScenarioResult {
  return {
    scenario, fault, expected: n, created: 0, duplicates: 0, lost: n, recovery_s: null, fault_s: 0, total_s: 0, verified: 0, signin_ok: 0,
    usable_code: 0, codes_mailed: 0, duplicate_code_mails: 0, resends: 0, prefault_code_refused: 0, verified_after_ambiguous: 0,
    client_errors: { unavailable_503: 0, other_5xx: 0, connection: 0, timeout: 0 }, needed_resend_for_first_mail: 0,
    by_stage: {}, anomalies: [], process_exits: [], ok: false,
  };
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAllManaged();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`);
    killAllManaged();
    process.exit(2);
  },
);
