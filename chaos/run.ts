/**
 * npm run chaos [-- --quick] [-- --only <scenario>[,<scenario>]] [-- --n 30] [-- --out <file>]
 *
 * Fault injection against the real processes: the API, the worker and the DB processor run as
 * separate OS processes (own process groups, killable with SIGKILL), on a task queue of their own,
 * against the local stack (scripts/stack.sh). For each scenario N signups are put at different
 * stages, the fault is injected and lifted, every verification is completed, and Postgres and
 * MailDev are checked: N accounts, no duplicates, none lost, every user got a usable code. The
 * account-* scenarios do the same with N accounts' password resets and email changes (with undo):
 * each applied exactly once, sessions and notices as expected (chaos/account-harness.ts).
 *
 * Prints a table and writes bench/results/chaos.json (a run of every scenario) or
 * .data/chaos/chaos-<names>.json (--only). Exits 1 on any loss, duplicate or anomaly.
 *
 * Where it runs (the faults stop SMTP, Kafka and Temporal):
 * - by default on a PRIVATE stack of this checkout: its own Redis, Kafka, Temporal and MailDev on
 *   this checkout's ports + CHAOS_PORT_OFFSET (20000), data in .data/chaos-stack, brought up at the
 *   start and down at the end (--keep-stack keeps it); only Postgres is shared. A running
 *   `npm start` or `npm test` is not disturbed.
 * - with --shared on this checkout's own stack (or CHAOS_STACK_ROOT=<dir>'s): when an `npm start`
 *   (or any app process) is running there, the run REFUSES to restart the services under it, unless
 *   --restart-shared is given too: then it says so loudly, counts down 10 s, and judges those
 *   processes as well (ready again after every fault).
 *
 * After every scenario the long-lived processes that were ready before the fault must be ready
 * again within --ready-bound seconds (default 90), and a brand-new signup, verify and sign-in must
 * succeed. The Kafka scenarios run --repeat times each (default 3; --quick 1), their timing drawn
 * from --seed (printed; pass it again to replay the same timings).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ACCOUNT_COLUMNS, runAnyScenario } from './account-harness';
import { emptyFaultResult, formatTable, seededRandom, type FaultResult, type Watched } from './harness';
import { loadStackEnv, migrate, privateStackEnv, stackCommand, type StackEnv } from '../testkit/stack';
import { killAllSupervised, REPO_ROOT } from '../testkit/supervisor';
import { sleep } from '../testkit/wait';
import { log } from './lib/util';
import { FAST_SCENARIOS, SCENARIOS, type Scenario } from './scenarios';
import { ChaosSystem } from './system';

function parseArgs(argv: string[]) {
  const args = { quick: false, only: [] as string[], n: 30, out: '', seed: NaN, repeat: NaN, shared: false, restartShared: false, keepStack: false, readyBound: 90 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--only') args.only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (a.startsWith('--only=')) args.only.push(...a.slice(7).split(',').filter(Boolean));
    else if (a === '--n') args.n = Number(argv[++i]);
    else if (a === '--out') args.out = argv[++i] ?? '';
    else if (a === '--seed') args.seed = Number(argv[++i]);
    else if (a === '--repeat') args.repeat = Number(argv[++i]);
    else if (a === '--ready-bound') args.readyBound = Number(argv[++i]);
    else if (a === '--shared') args.shared = true;
    else if (a === '--restart-shared') args.restartShared = true;
    else if (a === '--keep-stack') args.keepStack = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: npm run chaos -- [--quick] [--only ${SCENARIOS.map((s) => s.name).join('|')}] [--n 30] [--out file] [--seed N] [--repeat N] [--ready-bound S] [--shared [--restart-shared]] [--keep-stack]\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.n) || args.n < 4 || args.n > 200) throw new Error('--n must be an integer from 4 to 200');
  if (Number.isNaN(args.seed)) args.seed = Math.floor(Math.random() * 2 ** 31);
  if (Number.isNaN(args.repeat)) args.repeat = args.quick ? 1 : 3;
  if (!Number.isInteger(args.repeat) || args.repeat < 1 || args.repeat > 10) throw new Error('--repeat must be an integer from 1 to 10');
  if (!(args.readyBound > 0 && args.readyBound <= 600)) throw new Error('--ready-bound must be 1 to 600 seconds');
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const unknown = args.only.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const selected = args.only.length ? SCENARIOS.filter((s) => args.only.includes(s.name)) : SCENARIOS;
  // The Kafka scenarios again and again: the crash they once missed is a race.
  const runs = selected.flatMap((s) => (s.name.startsWith('kafka-') ? Array.from({ length: args.repeat }, (_, i) => ({ scenario: s, label: args.repeat > 1 ? `${s.name}-run${i + 1}` : s.name })) : [{ scenario: s, label: s.name }]));
  const started = Date.now();
  // Whole-run bound: 4.5 min per scenario run (3.5 quick), at most 45 min.
  const budgetMs = Math.min(45 * 60_000, runs.length * (args.quick ? 3.5 : 4.5) * 60_000);
  const hardDeadline = started + budgetMs;
  const random = seededRandom(args.seed);
  log(`seed ${args.seed} (npm run chaos -- --seed ${args.seed} replays these fault timings); ${runs.length} scenario runs`);

  const stack = args.shared ? loadStackEnv() : privateStackEnv();
  const watch = args.shared ? await guardSharedStack(stack, selected, args.restartShared) : [];
  log(`${args.shared ? 'SHARED' : 'private'} stack (data ${path.relative(REPO_ROOT, stack.dataDir) || stack.dataDir}): kafka ${stack.KAFKA_BROKERS}, temporal ${stack.TEMPORAL_ADDRESS}, smtp ${stack.SMTP_URL}`);
  log('bringing the stack up (scripts/stack.sh up)');
  await stackCommand(stack, ['up'], 600_000);
  migrate(stack);

  const sys = await ChaosSystem.create(stack);
  log(`task queue ${sys.taskQueue}; API port ${sys.apiPort}; logs in ${path.relative(REPO_ROOT, sys.logDir)}`);
  const results: FaultResult[] = [];
  try {
    await sys.ensureUp();
    for (const { scenario: base, label } of runs) {
      const scenario = { ...base, name: label };
      if (Date.now() > hardDeadline - 60_000) {
        log(`${scenario.name}: skipped, the run's time budget is spent`);
        results.push({ ...emptyFaultResult(scenario.name, scenario.fault, args.n), error: 'skipped: time budget spent' });
        continue;
      }
      log(`=== ${scenario.name}: ${scenario.fault}`);
      const r = await runAnyScenario({ sys, stack, quick: args.quick, log, watch, random }, scenario, { n: args.n, quick: args.quick, hardDeadline, random, readyBoundMs: args.readyBound * 1000 });
      results.push(r);
      const done = 'applied' in r ? `applied ${r.applied}` : 'created' in r ? `created ${r.created}` : 'nothing';
      log(`${scenario.name}: ${done}/${r.expected}, duplicates ${r.duplicates}, lost ${r.lost}, recovery ${r.recovery_s ?? '-'} s, processes ready ${r.not_ready_after_fault.length ? 'NO' : `after ${r.processes_ready_s ?? '-'} s`}, new signup ${r.fresh_flow}, ${r.ok ? 'ok' : 'FAILED'}`);
      if (!r.ok) for (const a of [...r.not_ready_after_fault, ...r.anomalies].slice(0, 10)) log(`  anomaly: ${a}`);
    }
  } finally {
    await sys.close().catch(() => undefined);
    if (!args.shared && !args.keepStack) {
      log('stopping the private stack (scripts/stack.sh down; --keep-stack keeps it)');
      await stackCommand(stack, ['down'], 180_000).catch((err) => log(`private stack down failed: ${(err as Error).message}`));
    }
  }

  const ok = results.every((r) => r.ok);
  const report = {
    generated_at: new Date().toISOString(),
    command: `npm run chaos${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    mode: args.quick ? 'quick' : 'full',
    n: args.n,
    seed: args.seed,
    kafka_repeats: args.repeat,
    ready_bound_s: args.readyBound,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, mem_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    stack: {
      // "." is this checkout's stack (scripts/stack.sh); another path came from CHAOS_STACK_ROOT.
      root: stack.root === REPO_ROOT ? '.' : stack.root,
      private: !args.shared,
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
      processes_ready_s: 'seconds from lifting the fault until every long-lived process that was ready before it was ready again',
      fresh_flow: 'a brand-new signup, verify and sign-in after the scenario (account scenarios: a brand-new password reset and sign-in)',
      applied: 'account scenarios: flows (resets, email changes, undos) in Postgres and working over HTTP: the new password or address signs in, the previous one does not',
      double_applied: 'account scenarios: flows whose change was applied twice (moved or undone more than once)',
      sessions_ok: "account scenarios: accounts whose sessions are exactly the expected ones (the reset's or the renewed one, those of settling sign-ins, none from before the flow)",
      notices_ok: 'account scenarios: accounts whose "password changed" or "email changed" notice was mailed',
      duplicate_notices: 'account scenarios: second copies of a notice (mail is at least once: a worker killed after SMTP took it, before the send-once mark); reported, not a failure',
    },
    total_s: Math.round((Date.now() - started) / 1000),
    ok,
    scenarios: results,
  };
  const out = args.out || (args.only.length ? path.join(REPO_ROOT, '.data', 'chaos', `chaos-${args.only.join('_')}.json`) : path.join(REPO_ROOT, 'bench', 'results', 'chaos.json'));
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  const tables = [results.filter((r) => !('applied' in r)), results.filter((r) => 'applied' in r)].filter((g) => g.length).map((g) => formatTable(g, 'applied' in g[0] ? ACCOUNT_COLUMNS : undefined));
  process.stdout.write(`\n${tables.join('\n\n')}\n\n${ok ? 'chaos: every scenario passed' : 'chaos: FAILED'} in ${report.total_s} s; ${path.relative(REPO_ROOT, out)}\n`);
  return ok ? 0 : 1;
}

/** Scenarios that stop or restart a service of the stack (not only our own processes). */
const RESTARTS_SERVICES = (name: string) => !FAST_SCENARIOS.includes(name) && name !== 'scale-out' && !name.startsWith('account-');

/**
 * On a shared stack: the app processes of an `npm start` (its pid file, or anything answering on
 * the app ports) would have their services restarted under them. Refuse, unless told to go on;
 * then say so loudly, count down, and watch those processes like ours.
 */
async function guardSharedStack(stack: StackEnv, selected: Scenario[], restartShared: boolean): Promise<Watched[]> {
  const apps = [
    { name: 'npm-start api', readyUrl: () => `http://127.0.0.1:${stack.apps.api}/health/ready` },
    { name: 'npm-start worker', readyUrl: () => `http://127.0.0.1:${stack.apps.worker}/health/ready` },
    { name: 'npm-start db-processor', readyUrl: () => `http://127.0.0.1:${stack.apps.dbProcessor}/health/ready` },
  ];
  const answering: Watched[] = [];
  for (const a of apps) {
    const up = await fetch(a.readyUrl(), { signal: AbortSignal.timeout(2000) }).then((r) => (r.body?.cancel(), true), () => false);
    if (up) answering.push(a);
  }
  let startPid = 0;
  try {
    startPid = Number(readFileSync(path.join(stack.dataDir, 'run', 'start.pid'), 'utf8').trim());
    process.kill(startPid, 0);
  } catch {
    startPid = 0;
  }
  const disruptive = selected.filter((s) => RESTARTS_SERVICES(s.name)).map((s) => s.name);
  if ((!answering.length && !startPid) || !disruptive.length) return answering;
  const who = `${startPid ? `npm start (pid ${startPid})` : 'app processes'}${answering.length ? ` answering on ${answering.map((a) => a.name.replace('npm-start ', '')).join(', ')}` : ''}`;
  const banner = '!'.repeat(100);
  if (!restartShared) {
    process.stderr.write(`\n${banner}\nchaos: REFUSING to run ${disruptive.join(', ')} on the shared stack at ${stack.root}:\n  ${who} runs on it, and these scenarios stop or restart its SMTP, Kafka or Temporal.\n  Run without --shared (a private stack, nothing shared is touched), or add --restart-shared to do it anyway.\n${banner}\n\n`);
    process.exit(2);
  }
  process.stderr.write(`\n${banner}\nchaos: WILL STOP AND RESTART SMTP, Kafka and Temporal of the shared stack at ${stack.root}\n  under ${who} (${disruptive.join(', ')}).\n  Those processes are judged too: ready again after every fault. Ctrl-C now to cancel.\n${banner}\n`);
  for (let i = 10; i > 0; i--) {
    process.stderr.write(`  starting in ${i} s...\r`);
    await sleep(1000);
  }
  process.stderr.write('\n');
  return answering;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAllSupervised();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`);
    killAllSupervised();
    process.exit(2);
  },
);
