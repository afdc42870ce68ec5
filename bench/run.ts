/**
 * `npm run bench` (`--quick` for a short run): our system against the bcrypt floor and two peers,
 * in one run, on this machine's local stack. See bench/README.md.
 *
 *   npm run bench                 default run (< 10 min): bench/results/latest.{json,md,svg}
 *   npm run bench -- --quick      short run (< 2 min):    bench/results/quick.{json,md,svg}
 *   options: --out NAME (results file name), --cpu-prof (profile our API; .cpuprofile files in
 *            bench/results/tmp/<run>/prof), --no-peers (ours and the floor only)
 *   env:     BENCH_PORT_BASE (3100), BCRYPT_COST (12, as in common/config.ts; --quick: 10), MAILDEV_URL
 */
import { Connection } from '@temporalio/client';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../common/config';
import { measureBcrypt, medianCompare, medianHash, parallelCompares, type BcryptFloor } from './lib/floor';
import { runLoad, summarise, type ScenarioResult, type System } from './lib/load';
import { CodeWatcher, MailDev } from '../testkit/maildev';
import { killAllSupervised, portFree, REPO_ROOT, runToEnd, tsxProcess, TSX, type SupervisedProcess } from '../testkit/supervisor';
import { sleep } from '../testkit/wait';
import { chartSvg, ratios, ratioTable, scenarioTable, targetTable, type TargetRow } from './lib/report';
import { startStallingSmtp } from './lib/stall-smtp';

// ------------------------------------------------------------------------------------------ plan

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const CPU_PROF = args.includes('--cpu-prof');
const NO_PEERS = args.includes('--no-peers');
const outIdx = args.indexOf('--out');
const OUT_NAME = outIdx >= 0 ? args[outIdx + 1] : QUICK ? 'quick' : 'latest';

interface Plan {
  /** Hard bound on the whole run, cleanup included; scenarios stop starting `reserveS` before it. */
  hardS: number;
  reserveS: number;
  concurrency: [number, number];
  c1S: number;
  cNS: number;
  stallTimeoutS: number;
  stallS: number;
  /** signup_to_verified flows at each concurrency (0: not run). */
  s2v: [number, number];
  verify: [number, number];
  signinC1S: number;
  signinCN: number;
  /** Time box of the amount-based (bcrypt-bound) runs at the higher concurrency. */
  boxS: number;
  logout: [number, number];
  throughputS: number;
  peerThroughputS: number;
  drainMaxS: number;
  floor: { hashes: number; compares: number; parallelS: number };
}

const PLAN: Plan = QUICK
  ? {
      hardS: 114,
      reserveS: 10,
      concurrency: [1, 50],
      c1S: 1,
      cNS: 1,
      stallTimeoutS: 1.5,
      stallS: 2,
      s2v: [2, 0],
      verify: [2, 50],
      signinC1S: 1,
      signinCN: 50,
      boxS: 4,
      logout: [10, 50],
      throughputS: 10,
      peerThroughputS: 0,
      drainMaxS: 20,
      floor: { hashes: 3, compares: 3, parallelS: 1 },
    }
  : {
      hardS: 595,
      reserveS: 40,
      concurrency: [1, 50],
      c1S: 4,
      cNS: 6,
      stallTimeoutS: 5,
      stallS: 6,
      s2v: [10, 50],
      verify: [10, 100],
      signinC1S: 4,
      signinCN: 100,
      boxS: 25,
      logout: [40, 500],
      throughputS: 60,
      peerThroughputS: 10,
      drainMaxS: 180,
      floor: { hashes: 5, compares: 10, parallelS: 4 },
    };

const T0 = Date.now();
const elapsedS = () => (Date.now() - T0) / 1000;
/** Seconds left for scenarios (the reserve is for stopping processes and cleaning up). */
const remainingS = () => PLAN.hardS - PLAN.reserveS - elapsedS();
const log = (msg: string) => process.stderr.write(`[bench ${elapsedS().toFixed(0).padStart(3)}s] ${msg}\n`);

const RUN = randomBytes(3).toString('hex');
const RESULTS = path.join(REPO_ROOT, 'bench', 'results');
const TMP = path.join(RESULTS, 'tmp', RUN);
mkdirSync(TMP, { recursive: true });

// A local benchmark: development secrets unless the environment says otherwise (children inherit it).
process.env.NODE_ENV ??= 'development';
const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
/**
 * The configured cost (common/config.ts, 12 unless BCRYPT_COST says otherwise). --quick uses 10
 * unless BCRYPT_COST is set: four times cheaper, so the bcrypt-bound runs at 50 connections fit in
 * two minutes. Every system and the floor use the same cost in a run.
 */
const COST = QUICK && !process.env.BCRYPT_COST ? 10 : config.BCRYPT_COST;
const MAILDEV_URL = process.env.MAILDEV_URL ?? 'http://127.0.0.1:1080';
const BENCH_DB = config.DATABASE_URL.replace(/\/[^/?]+(\?|$)/, '/cfd_auth_bench$1');
const PORT_BASE = Number(process.env.BENCH_PORT_BASE ?? 3100);
const PORTS = {
  api: PORT_BASE + 1,
  worker: PORT_BASE + 2,
  dbp: PORT_BASE + 3,
  apiStalled: PORT_BASE + 4,
  workerStalled: PORT_BASE + 5,
  direct: PORT_BASE + 11,
  directStalled: PORT_BASE + 12,
  ba: PORT_BASE + 21,
  baStalled: PORT_BASE + 22,
};
const QUEUE = `bench-${RUN}`;
const QUEUE_STALLED = `bench-${RUN}-stalled`;

// ------------------------------------------------------------------------------------ systems

interface Sut {
  system: System;
  tag: string;
  url: string;
  stalledUrl: string;
  headers: Record<string, string>;
  signup: { path: string; body: (email: string) => string; expect: number[] };
  verify: { path: string; expect: number[] };
  signin: { path: string; expect: number[] };
  me: { path: string; expect: number[]; ok?: (body: string) => boolean };
  logout: { path: string; expect: number[] };
  /** Accounts that exist, with the password. */
  users: { email: string; password: string }[];
  /** Live sessions as a Cookie header value. */
  sessions: string[];
}

const json = (o: unknown) => JSON.stringify(o);
const ourPaths = (p: string) => `/api/v1/auth${p}`;

function makeSuts(): Sut[] {
  const common = { users: [], sessions: [] };
  const ours: Sut = {
    system: 'ours', tag: 'o', url: `http://127.0.0.1:${PORTS.api}`, stalledUrl: `http://127.0.0.1:${PORTS.apiStalled}`, headers: {},
    signup: { path: ourPaths('/signup'), body: (email) => json({ email }), expect: [202] },
    verify: { path: ourPaths('/verify'), expect: [201] },
    signin: { path: ourPaths('/signin'), expect: [200] },
    me: { path: ourPaths('/me'), expect: [200] },
    logout: { path: ourPaths('/logout'), expect: [204] },
    ...common,
  };
  const direct: Sut = {
    ...ours, system: 'direct', tag: 'd', url: `http://127.0.0.1:${PORTS.direct}`, stalledUrl: `http://127.0.0.1:${PORTS.directStalled}`, users: [], sessions: [],
  };
  const baUrl = `http://127.0.0.1:${PORTS.ba}`;
  const ba: Sut = {
    system: 'better-auth', tag: 'ba', url: baUrl, stalledUrl: `http://127.0.0.1:${PORTS.baStalled}`,
    // better-auth refuses cookie-bearing POSTs without a trusted Origin (its CSRF check): see headersFor.
    headers: { origin: baUrl },
    signup: { path: '/api/auth/email-otp/send-verification-otp', body: (email) => json({ email, type: 'sign-in' }), expect: [200] },
    verify: { path: '/bench/verify', expect: [201] },
    signin: { path: '/api/auth/sign-in/email', expect: [200] },
    me: { path: '/api/auth/get-session', expect: [200], ok: (b) => b !== 'null' && b.includes('"session"') },
    logout: { path: '/api/auth/sign-out', expect: [200] },
    users: [], sessions: [],
  };
  return NO_PEERS ? [ours] : [ours, direct, ba];
}

/** better-auth checks Origin against its own base URL: each instance gets its own. */
const headersFor = (sut: Sut, url: string): Record<string, string> => (sut.system === 'better-auth' ? { origin: url } : {});

const address = (sut: Sut, purpose: string, n: number | string) => `b-${RUN}-${sut.tag}-${purpose}-${n}@bench.example.com`;
const needle = (sut: Sut, purpose: string) => `b-${RUN}-${sut.tag}-${purpose}-`;
const passwordFor = (email: string) => `pw-${email.slice(0, 24)}-Xq7!`;

function sessionCookie(headers: Record<string, string | string[]>): string | undefined {
  const raw = headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  for (const c of list) {
    const pair = c.split(';')[0];
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(eq + 1).length > 0 && /auth_token|session_token/.test(pair.slice(0, eq))) return pair;
  }
  return undefined;
}

// ------------------------------------------------------------------------------- infrastructure

const procs: SupervisedProcess[] = [];
/** One of the processes under test, started, logging to the run's folder. */
const startTsx = (name: string, script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []) =>
  tsxProcess(name, script, env, path.join(TMP, `${name}.log`), { nodeArgs }).start();
/** The twins on the stalling SMTP server: stopped once the stalled scenario is done. */
const stalledProcs: SupervisedProcess[] = [];
let stall: Awaited<ReturnType<typeof startStallingSmtp>> | undefined;

async function ensureStack(): Promise<void> {
  const status = await runToEnd('bash', ['scripts/stack.sh', 'status'], process.env, 60_000);
  if (status.code === 0) {
    log('stack: all infrastructure answers');
    return;
  }
  log('stack: starting it (bash scripts/stack.sh up)');
  const up = await runToEnd('bash', ['scripts/stack.sh', 'up'], process.env, 15 * 60_000);
  if (up.code !== 0) throw new Error(`scripts/stack.sh up failed:\n${up.out.slice(-3000)}`);
}

async function startAll(suts: Sut[]): Promise<Record<string, number>> {
  for (const [name, port] of Object.entries(PORTS)) {
    if (NO_PEERS && /direct|ba/.test(name)) continue;
    if (!(await portFree(port))) throw new Error(`port ${port} (${name}) is in use: stop what holds it or set BENCH_PORT_BASE`);
  }
  stall = await startStallingSmtp();
  const base: NodeJS.ProcessEnv = { ...process.env, BCRYPT_COST: String(COST), LOG_LEVEL: 'warn', RATE_LIMITS_ENABLED: 'false' };
  const ours = { ...base, API_PORT: String(PORTS.api), WORKER_HEALTH_PORT: String(PORTS.worker), DB_PROCESSOR_HEALTH_PORT: String(PORTS.dbp), TEMPORAL_TASK_QUEUE: QUEUE };
  const stalledSmtp = `smtp://127.0.0.1:${stall.port}`;
  const profDir = path.join(TMP, 'prof');
  if (CPU_PROF) mkdirSync(profDir, { recursive: true });

  const migrate = await runToEnd(TSX, ['scripts/migrate.ts'], ours, 120_000);
  if (migrate.code !== 0) throw new Error(`migrations failed:\n${migrate.out}`);

  const started = Date.now();
  const dbp = startTsx('db-processor', 'db-processor/main.ts', ours);
  const worker = startTsx('worker', 'workflows/worker.ts', ours);
  const api = startTsx('api', 'api/main.ts', ours, CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
  const workerS = startTsx('worker-stalled', 'workflows/worker.ts', { ...ours, WORKER_HEALTH_PORT: String(PORTS.workerStalled), SMTP_URL: stalledSmtp, TEMPORAL_TASK_QUEUE: QUEUE_STALLED });
  const apiS = startTsx('api-stalled', 'api/main.ts', { ...ours, API_PORT: String(PORTS.apiStalled), TEMPORAL_TASK_QUEUE: QUEUE_STALLED });
  procs.push(dbp, worker, api, workerS, apiS);
  stalledProcs.push(workerS, apiS);

  const peerEnv = { ...base, DATABASE_URL: BENCH_DB, REDIS_URL: config.REDIS_URL, SMTP_URL: config.SMTP_URL };
  const peerReady: Promise<unknown>[] = [];
  if (!NO_PEERS) {
    const startPeer = async (name: string, script: string, port: number, stalledPort: number) => {
      const p = startTsx(name, script, { ...peerEnv, PORT: String(port), RESET_DB: '1' });
      procs.push(p);
      await p.waitReady(120_000, `http://127.0.0.1:${port}/health/ready`);
      // The stalled twin starts after the first one made (and emptied) the tables.
      const s = startTsx(`${name}-stalled`, script, { ...peerEnv, PORT: String(stalledPort), SMTP_URL: stalledSmtp });
      procs.push(s);
      stalledProcs.push(s);
      await s.waitReady(120_000, `http://127.0.0.1:${stalledPort}/health/ready`);
    };
    peerReady.push(startPeer('direct', 'bench/baselines/direct/server.ts', PORTS.direct, PORTS.directStalled));
    peerReady.push(startPeer('better-auth', 'bench/baselines/better-auth/server.ts', PORTS.ba, PORTS.baStalled));
  }

  const timeout = 180_000;
  // The stalled worker's SMTP check fails by design: every other dependency must be up.
  const upExceptSmtp = (s: number, b: string) => {
    try {
      const deps = (JSON.parse(b) as { dependencies?: Record<string, string> }).dependencies ?? {};
      return Object.entries(deps).every(([k, v]) => k === 'smtp' || v === 'up') && Object.keys(deps).length > 0 && (s === 200 || s === 503);
    } catch {
      return false;
    }
  };
  await Promise.all([
    dbp.waitReady(timeout, `http://127.0.0.1:${PORTS.dbp}/health/ready`),
    worker.waitReady(timeout, `http://127.0.0.1:${PORTS.worker}/health/ready`),
    api.waitReady(timeout, `http://127.0.0.1:${PORTS.api}/health/ready`),
    workerS.waitReady(timeout, `http://127.0.0.1:${PORTS.workerStalled}/health/ready`, upExceptSmtp),
    apiS.waitReady(timeout, `http://127.0.0.1:${PORTS.apiStalled}/health/ready`),
    ...peerReady,
  ]);
  void suts;
  return { startup_s: (Date.now() - started) / 1000 };
}

async function stopAll(): Promise<void> {
  await Promise.all(procs.map((p) => p.stop()));
  await stall?.close();
}

/** Ends the signups this run left open (they wait 24 h for a code) on the given task queues. */
async function terminateBenchWorkflows(queues: string[]): Promise<string> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    await connection.workflowService.startBatchOperation({
      namespace: config.TEMPORAL_NAMESPACE,
      jobId: `bench-cleanup-${RUN}-${randomUUID()}`,
      reason: 'benchmark run finished',
      visibilityQuery: `(${queues.map((q) => `TaskQueue = '${q}'`).join(' OR ')}) AND ExecutionStatus = 'Running'`,
      terminationOperation: {},
    });
    return `batch termination of open workflows on ${queues.join(', ')} started`;
  } finally {
    await connection.close();
  }
}

/**
 * After the stalled scenario: its twins stop, and our stalled signups (retrying SMTP with back-off
 * for hours) are terminated, so their retries do not load Temporal during the later scenarios.
 */
async function endStalled(): Promise<void> {
  await Promise.all(stalledProcs.map((p) => p.stop(1000)));
  try {
    await terminateBenchWorkflows([QUEUE_STALLED]);
  } catch (err) {
    log(`could not terminate the stalled workflows: ${(err as Error).message}`);
  }
}

/** Emails each system still owes from earlier scenarios: waited for so one scenario's backlog does not load the next. */
const owed = new Map<System, { needle: string; expected: number }[]>();

async function drain(suts: Sut[], maxS: number): Promise<void> {
  const t0 = Date.now();
  const until = t0 + maxS * 1000;
  for (const sut of suts) {
    for (const o of owed.get(sut.system) ?? []) {
      for (;;) {
        let n = 0;
        try {
          n = await mail.count(o.needle);
        } catch {
          // MailDev busy
        }
        if (n >= o.expected) break;
        if (Date.now() >= until) {
          log(`drain: ${sut.system} still owes ${o.expected - n} emails (${o.needle}); going on after ${maxS.toFixed(0)} s`);
          break;
        }
        await sleep(250);
      }
    }
    owed.set(sut.system, []);
  }
  const waited = (Date.now() - t0) / 1000;
  if (waited > 1) log(`drain: waited ${waited.toFixed(1)} s for earlier signups' emails`);
}

// ------------------------------------------------------------------------------------ scenarios

const results: ScenarioResult[] = [];
const mail = new MailDev(MAILDEV_URL);

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(60_000) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`POST ${url}: ${(err as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`);
  }
}

function cookieFromFetch(h: Headers): string | undefined {
  return sessionCookie({ 'set-cookie': h.getSetCookie() });
}

async function pooled<T>(items: T[], concurrency: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/**
 * Waits until a system has worked off what an earlier run left in flight (a time-boxed bcrypt run
 * leaves up to 50 hashes queued in its thread pool): a cheap request must answer fast twice in a row.
 */
async function settle(sut: Sut, maxS = 20): Promise<void> {
  const url = `${sut.url}${sut.system === 'ours' ? '/health/live' : '/health/ready'}`;
  const until = Date.now() + maxS * 1000;
  let fast = 0;
  while (Date.now() < until && fast < 2) {
    const t = performance.now();
    try {
      await fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => r.text());
    } catch {
      // busy
    }
    fast = performance.now() - t < 30 ? fast + 1 : 0;
    if (fast < 2) await sleep(100);
  }
}

async function scenarioSignup(sut: Sut, c: number, stalled: boolean): Promise<void> {
  const purpose = `${stalled ? 'st' : 'su'}${c}`;
  const r = await runLoad({
    system: sut.system,
    name: stalled ? 'signup_smtp_stalled' : 'signup',
    url: stalled ? sut.stalledUrl : sut.url,
    method: 'POST',
    path: sut.signup.path,
    headers: headersFor(sut, stalled ? sut.stalledUrl : sut.url),
    concurrency: c,
    durationS: stalled ? PLAN.stallS : c === 1 ? PLAN.c1S : PLAN.cNS,
    timeoutS: stalled ? PLAN.stallTimeoutS : 30,
    expect: sut.signup.expect,
    build: (i) => ({ body: sut.signup.body(address(sut, purpose, i)) }),
  });
  results.push(r);
  if (!stalled) owed.set(sut.system, [...(owed.get(sut.system) ?? []), { needle: needle(sut, purpose), expected: r.ok }]);
  log(`${r.name} ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors`);
}

interface PendingSignup {
  email: string;
  otp: string;
}

/** Signs up `n` addresses (through the same API) and collects their codes from MailDev. */
async function preparePending(sut: Sut, n: number, purpose: string): Promise<PendingSignup[]> {
  const emails = Array.from({ length: n }, (_, i) => address(sut, purpose, i));
  let failed = 0;
  let firstError = '';
  await pooled(emails, 10, async (email) => {
    try {
      const r = await post(`${sut.url}${sut.signup.path}`, sut.signup.body(email), sut.headers);
      if (!sut.signup.expect.includes(r.status)) {
        failed += 1;
        firstError ||= `status ${r.status}: ${r.text.slice(0, 200)}`;
      }
    } catch (err) {
      failed += 1;
      firstError ||= (err as Error).message;
    }
  });
  if (failed) log(`${sut.system}: ${failed} of ${n} pending signups failed; first: ${firstError}`);
  const codes = await mail.waitCodes(needle(sut, purpose), emails, Math.max(5, Math.min(90, remainingS() - 30)) * 1000);
  if (failed || codes.size < n) log(`warning: ${sut.system}: ${failed} signups failed, ${codes.size}/${n} codes arrived`);
  return emails.filter((e) => codes.has(e)).map((e) => ({ email: e, otp: codes.get(e)! }));
}

function verifyBody(p: PendingSignup): string {
  return json({ email: p.email, otp: p.otp, password: passwordFor(p.email), name: 'Bench User' });
}

async function scenarioVerify(sut: Sut, c: number, pool: PendingSignup[]): Promise<void> {
  const amount = Math.min(pool.length, c === 1 ? PLAN.verify[0] : PLAN.verify[1]);
  if (amount < c) {
    log(`verify ${sut.system} c=${c}: only ${pool.length} pending signups, skipped`);
    return;
  }
  const slice = pool.splice(0, amount);
  const r = await runLoad({
    system: sut.system, name: 'verify', url: sut.url, method: 'POST', path: sut.verify.path, headers: sut.headers,
    concurrency: c, amount, maxS: PLAN.boxS, timeoutS: 60, expect: sut.verify.expect,
    build: (i, ctx) => {
      const p = slice[i % slice.length];
      ctx.current = p;
      return { body: verifyBody(p) };
    },
    onResponse: (_s, _b, headers, ctx) => {
      const p = ctx.current as PendingSignup;
      sut.users.push({ email: p.email, password: passwordFor(p.email) });
      const cookie = sessionCookie(headers);
      if (cookie) sut.sessions.push(cookie);
      return cookie !== undefined;
    },
  });
  results.push(r);
  await settle(sut);
  log(`verify ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors`);
}

/** signup → code read from MailDev → verify, timed end to end by hand (MailDev polled every 50 ms). */
async function scenarioSignupToVerified(sut: Sut, c: number, n: number): Promise<void> {
  const purpose = `sv${c}`;
  const watcher = new CodeWatcher(mail, needle(sut, purpose), 50);
  watcher.start();
  const latencies: number[] = [];
  const codeWaits: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const t0 = Date.now();
  try {
    const stopAt = Date.now() + Math.max(5, Math.min(60, remainingS() - 5)) * 1000;
    await pooled(Array.from({ length: n }, (_, i) => i), c, async (i) => {
      if (Date.now() >= stopAt) return;
      const email = address(sut, purpose, i);
      const start = performance.now();
      try {
        const s = await post(`${sut.url}${sut.signup.path}`, sut.signup.body(email), sut.headers);
        statuses[s.status] = (statuses[s.status] ?? 0) + 1;
        if (!sut.signup.expect.includes(s.status)) throw new Error(`signup ${s.status}`);
        const afterSignup = performance.now();
        // Bounded per flow: a mailbox that never gets the code (SMTP or MailDev down) must not eat the run.
        const otp = await watcher.wait(email, Math.max(1000, Math.min((QUICK ? 8 : 30) * 1000, stopAt - Date.now())));
        codeWaits.push(performance.now() - afterSignup);
        const v = await post(`${sut.url}${sut.verify.path}`, verifyBody({ email, otp }), sut.headers);
        statuses[v.status] = (statuses[v.status] ?? 0) + 1;
        if (!sut.verify.expect.includes(v.status)) throw new Error(`verify ${v.status}`);
        latencies.push(performance.now() - start);
        sut.users.push({ email, password: passwordFor(email) });
        const cookie = cookieFromFetch(v.headers);
        if (cookie) sut.sessions.push(cookie);
      } catch {
        errors += 1;
      }
    });
  } finally {
    await watcher.stop();
  }
  const sortedWaits = [...codeWaits].sort((a, b) => a - b);
  const r = summarise({ system: sut.system, name: 'signup_to_verified', concurrency: c, tool: 'flow' }, latencies, {
    ok: latencies.length, errors, timeouts: 0, statuses, durationS: (Date.now() - t0) / 1000,
    note: `${latencies.length + errors} of ${n} flows run; code wait p50 ${sortedWaits[Math.floor(sortedWaits.length / 2)]?.toFixed(0) ?? '–'} ms (MailDev polled every 50 ms)`,
  });
  results.push(r);
  log(`signup_to_verified ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.errors} errors (${r.note})`);
}

async function scenarioSignin(sut: Sut, c: number): Promise<void> {
  const users = sut.users;
  if (users.length === 0) return void log(`signin ${sut.system}: no users, skipped`);
  const r = await runLoad({
    system: sut.system, name: 'signin', url: sut.url, method: 'POST', path: sut.signin.path, headers: sut.headers,
    concurrency: c, ...(c === 1 ? { durationS: PLAN.signinC1S } : { amount: Math.max(c, PLAN.signinCN), maxS: PLAN.boxS }), timeoutS: 60,
    expect: sut.signin.expect,
    build: (i) => {
      const u = users[i % users.length];
      return { body: json({ email: u.email, password: u.password }) };
    },
    onResponse: (_s, _b, headers) => {
      const cookie = sessionCookie(headers);
      if (cookie) sut.sessions.push(cookie);
      return cookie !== undefined;
    },
  });
  results.push(r);
  await settle(sut);
  log(`signin ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors`);
}

async function scenarioMe(sut: Sut, c: number): Promise<void> {
  const sessions = [...sut.sessions];
  if (sessions.length === 0) return void log(`me ${sut.system}: no sessions, skipped`);
  const r = await runLoad({
    system: sut.system, name: 'me', url: sut.url, method: 'GET', path: sut.me.path, headers: sut.headers,
    concurrency: c, durationS: c === 1 ? PLAN.c1S : PLAN.cNS, expect: sut.me.expect,
    build: (i) => ({ headers: { cookie: sessions[i % sessions.length] } }),
    ...(sut.me.ok ? { onResponse: (_s: number, body: string) => sut.me.ok!(body) } : {}),
  });
  results.push(r);
  log(`me ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors`);
}

async function scenarioLogout(sut: Sut, c: number): Promise<void> {
  const want = c === 1 ? PLAN.logout[0] : PLAN.logout[1];
  const amount = Math.min(want, sut.sessions.length);
  if (amount < c) return void log(`logout ${sut.system} c=${c}: only ${sut.sessions.length} sessions left, skipped`);
  const slice = sut.sessions.splice(0, amount);
  const r = await runLoad({
    system: sut.system, name: 'logout', url: sut.url, method: 'POST', path: sut.logout.path, headers: sut.headers,
    concurrency: c, amount, expect: sut.logout.expect,
    build: (i) => ({ body: '{}', headers: { cookie: slice[i % slice.length] } }),
  });
  results.push(r);
  log(`logout ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors (${amount} sessions)`);
}

interface Throughput {
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
}

async function scenarioThroughput(sut: Sut, durationS: number, drainMaxS: number): Promise<Throughput> {
  const c = 50;
  const purpose = 'tp';
  const r = await runLoad({
    system: sut.system, name: 'signup_throughput', url: sut.url, method: 'POST', path: sut.signup.path, headers: sut.headers,
    concurrency: c, durationS, timeoutS: 30, expect: sut.signup.expect,
    build: (i) => ({ body: sut.signup.body(address(sut, purpose, i)) }),
  });
  results.push(r);
  const loadEnd = Date.now();
  const accepted = r.ok;
  log(`signup_throughput ${sut.system}: ${accepted} accepted in ${r.duration_s} s (${r.rps}/s, ${r.errors} errors); waiting for the codes (≤ ${drainMaxS.toFixed(0)} s)`);
  let delivered = 0;
  let doneAt: number | null = null;
  const until = loadEnd + drainMaxS * 1000;
  for (;;) {
    try {
      delivered = await mail.count(needle(sut, purpose));
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
  const drainS = doneAt === null ? null : (doneAt - loadEnd) / 1000;
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
  };
  log(`signup_throughput ${sut.system}: ${delivered}/${accepted} codes delivered${drainS === null ? ` (bound of ${drainMaxS.toFixed(0)} s reached)` : ` ${drainS.toFixed(1)} s after the load ended`}`);
  return t;
}

// ------------------------------------------------------------------------------------- targets

function targets(floor: BcryptFloor, tp: Throughput | undefined): TargetRow[] {
  const get = (name: string, c: number) => results.find((r) => r.system === 'ours' && r.name === name && r.concurrency === c);
  const [c1, cN] = PLAN.concurrency;
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

// ----------------------------------------------------------------------------------------- main

const skipped: string[] = [];

/**
 * The systems in a different order for each scenario step (ours first, then second, then third...),
 * so a slow moment of the shared machine, or what one run leaves behind, does not always fall on the
 * same system.
 */
let rotation = 0;
function rotated<T>(xs: T[]): T[] {
  const k = rotation++ % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** Runs a step when about `needS` seconds are left before the reserve; records it as skipped otherwise. */
async function step(what: string, needS: number, fn: () => Promise<void>): Promise<void> {
  if (remainingS() < needS) {
    skipped.push(`${what} (needs ~${Math.ceil(needS)} s, ${Math.max(0, Math.floor(remainingS()))} s left in the time budget)`);
    log(`skipped ${what}: not enough time left`);
    return;
  }
  await fn();
}

function buildOutput(floor: BcryptFloor, startupS: number, load0: number[], oursTp: Throughput | undefined, peerTp: Throughput[], cleanup: string[]) {
  const cpus = os.cpus();
  return {
    run: RUN,
    mode: QUICK ? 'quick' : 'default',
    date: new Date(T0).toISOString(),
    total_s: Math.round(elapsedS()),
    machine: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? 'unknown',
      mem_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      os: `${os.type()} ${os.release()}`,
      loadavg_start: load0.map((x) => Math.round(x * 100) / 100),
      loadavg_end: os.loadavg().map((x) => Math.round(x * 100) / 100),
    },
    settings: {
      bcrypt_cost: COST,
      rate_limits_enabled: false,
      log_level: 'warn',
      ours: {
        api: `127.0.0.1:${PORTS.api}`, worker_health: PORTS.worker, db_processor_health: PORTS.dbp, task_queue: QUEUE,
        stalled: { api: `127.0.0.1:${PORTS.apiStalled}`, worker_health: PORTS.workerStalled, task_queue: QUEUE_STALLED, smtp: `TCP server on 127.0.0.1:${stall?.port ?? '?'} that accepts and never answers` },
      },
      peers: NO_PEERS
        ? 'not run (--no-peers)'
        : {
            direct: 'bench/baselines/direct/server.ts: Express + pg + bcrypt + nodemailer; signup answers after SMTP; sessions in Redis; database cfd_auth_bench',
            'better-auth': 'bench/baselines/better-auth/server.ts: better-auth email-OTP plugin, bcrypt via its password hooks, Redis secondary storage (sessions, OTPs), mail not awaited; database cfd_auth_bench',
          },
      plan: PLAN,
      startup_s: startupS,
    },
    bcrypt: floor,
    scenarios: results,
    throughput: oursTp ? { ...oursTp, peers: peerTp } : null,
    ratios: ratios(results),
    targets: targets(floor, oursTp),
    skipped,
    cleanup,
  };
}

function markdown(out: ReturnType<typeof buildOutput>, floor: BcryptFloor, oursTp: Throughput | undefined, peerTp: Throughput[]): string {
  return [
    `## Benchmark, ${out.mode} run ${RUN} (${out.date})`,
    '',
    `Machine: ${out.machine.cpus} × ${out.machine.cpu_model}, ${out.machine.mem_gb} GB, Node ${out.machine.node}; load average ${out.machine.loadavg_start[0]} at the start, ${out.machine.loadavg_end[0]} at the end (the cores are shared with other work: compare systems within this run only). Total ${out.total_s} s.`,
    `Our API ran with RATE_LIMITS_ENABLED=false (rate limits off for the benchmark), LOG_LEVEL=warn, BCRYPT_COST=${COST}; both peers use the same bcrypt cost, the same Postgres server (database cfd_auth_bench) and the same Redis.`,
    `bcrypt floor at cost ${COST}: hash ${floor.hash_ms} ms, compare ${floor.compare_ms} ms (medians); ${floor.compares_per_s_parallel} compares/s with ${floor.parallel} in parallel.`,
    '',
    scenarioTable(results, floor),
    '',
    '### Ours ÷ peer (latency: below 1 is better; req/s: above 1 is better)',
    '',
    ratioTable(out.ratios),
    '',
    '### Sustained signups',
    '',
    ...[oursTp, ...peerTp].filter((t): t is Throughput => !!t).map(
      (t) =>
        `- ${t.system}: ${t.signups_per_s} signups/s accepted for ${t.duration_s} s at c=${t.concurrency} (${t.errors} errors); ${t.delivered}/${t.accepted} codes in MailDev${t.all_codes_delivered_s === null ? ` within ${t.drain_bound_s} s after the load (not all)` : `, the last ${t.all_codes_delivered_s} s after the load ended (${t.delivered_per_s_end_to_end}/s end to end)`}.`,
    ),
    '',
    '### Targets (ours)',
    '',
    targetTable(out.targets),
    '',
    ...(skipped.length ? [`Skipped for time: ${skipped.join('; ')}.`, ''] : []),
    ...results.filter((r) => r.note).map((r) => `- ${r.system} ${r.name} c=${r.concurrency}: ${r.note}`),
    '',
    `Chart: ${OUT_NAME}.svg.${out.cleanup.length ? ` Cleanup: ${out.cleanup.join('; ')}.` : ''}`,
  ].join('\n');
}

function writeResults(out: ReturnType<typeof buildOutput>, md: string): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, `${OUT_NAME}.json`), JSON.stringify(out, null, 2) + '\n');
  writeFileSync(path.join(RESULTS, `${OUT_NAME}.md`), md + '\n');
  writeFileSync(path.join(RESULTS, `${OUT_NAME}.svg`), chartSvg(results, `cfd-broker-auth benchmark (${out.mode} run, bcrypt cost ${COST}, ${out.date.slice(0, 10)})`) + '\n');
}

async function main(): Promise<void> {
  const hardStop = setTimeout(() => {
    log(`hard time bound of ${PLAN.hardS} s reached: stopping every process this run started`);
    killAllSupervised();
    process.exit(3);
  }, PLAN.hardS * 1000);
  hardStop.unref();

  log(`run ${RUN} (${QUICK ? 'quick' : 'default'}, bound ${PLAN.hardS} s), bcrypt cost ${COST}, logs in ${path.relative(REPO_ROOT, TMP)}`);
  const load0 = os.loadavg();
  await ensureStack();
  const suts = makeSuts();
  const startup = await startAll(suts);
  log(`processes ready after ${startup.startup_s.toFixed(1)} s`);

  const [c1, cN] = PLAN.concurrency;
  // Pending signups for `verify`, made first so their mail is delivered before anything is timed.
  const pools = new Map<System, PendingSignup[]>();
  await Promise.all(suts.map(async (sut) => pools.set(sut.system, await preparePending(sut, PLAN.verify[0] + PLAN.verify[1], 'vp'))));
  log(`pending signups ready: ${suts.map((s) => `${s.system} ${pools.get(s.system)!.length}`).join(', ')}`);

  const floor = await measureBcrypt(COST, PLAN.floor);
  log(`bcrypt cost ${COST}: hash ${floor.hash_ms} ms, compare ${floor.compare_ms} ms, ${floor.compares_per_s_parallel} compares/s with ${floor.parallel} in parallel`);

  const slack = 1.5;
  for (const c of [c1, cN]) for (const sut of rotated(suts)) await step(`signup ${sut.system} c=${c}`, (c === 1 ? PLAN.c1S : PLAN.cNS) + slack, () => scenarioSignup(sut, c, false));
  await drain(suts, Math.max(3, Math.min(QUICK ? 5 : 60, remainingS() - 60)));
  for (const c of [c1, cN]) for (const sut of rotated(suts)) await step(`signup_smtp_stalled ${sut.system} c=${c}`, PLAN.stallS + slack, () => scenarioSignup(sut, c, true));
  await endStalled();
  for (const [i, c] of [c1, cN].entries()) {
    if (PLAN.s2v[i] <= 0) {
      skipped.push(`signup_to_verified c=${c} (not part of the ${QUICK ? 'quick' : 'default'} plan)`);
      continue;
    }
    for (const sut of rotated(suts)) await step(`signup_to_verified ${sut.system} c=${c}`, c === 1 ? 3 : 8, () => scenarioSignupToVerified(sut, c, PLAN.s2v[i]));
  }
  // The headline floor is measured right next to the runs it is subtracted from.
  floor.at_start = { hash_ms: floor.hash_ms, compare_ms: floor.compare_ms, compares_per_s_parallel: floor.compares_per_s_parallel };
  floor.hash_ms = await medianHash(COST, PLAN.floor.hashes);
  for (const sut of rotated(suts)) await step(`verify ${sut.system} c=${c1}`, 3, () => scenarioVerify(sut, c1, pools.get(sut.system)!));
  for (const sut of rotated(suts)) await step(`verify ${sut.system} c=${cN}`, Math.min(PLAN.boxS, 8) + slack, () => scenarioVerify(sut, cN, pools.get(sut.system)!));
  floor.compare_ms = await medianCompare(COST, PLAN.floor.compares);
  // What bcrypt alone allows: the best of the measurements, so the signin-throughput target is judged strictly.
  floor.compares_per_s_parallel = Math.max(floor.compares_per_s_parallel, await parallelCompares(COST, PLAN.floor.parallelS, floor.parallel));
  floor.measured = 'hash_ms right before the verify runs; compare_ms right before the signin runs; compares_per_s_parallel: the best of the measurements at the start and right before the signin runs; at_start: the first measurement';
  log(`bcrypt next to the runs: hash ${floor.hash_ms} ms, compare ${floor.compare_ms} ms, ${floor.compares_per_s_parallel} compares/s`);
  for (const sut of rotated(suts)) await step(`signin ${sut.system} c=${c1}`, PLAN.signinC1S + slack, () => scenarioSignin(sut, c1));
  for (const sut of rotated(suts)) await step(`signin ${sut.system} c=${cN}`, Math.min(PLAN.boxS, 8) + slack, () => scenarioSignin(sut, cN));
  for (const c of [c1, cN]) for (const sut of rotated(suts)) await step(`me ${sut.system} c=${c}`, (c === 1 ? PLAN.c1S : PLAN.cNS) + slack, () => scenarioMe(sut, c));
  for (const c of [c1, cN]) for (const sut of rotated(suts)) await step(`logout ${sut.system} c=${c}`, 2, () => scenarioLogout(sut, c));

  // Sustained signups: ours for the full window; the peers for a shorter one when time allows.
  let oursTp: Throughput | undefined;
  const peerTp: Throughput[] = [];
  const peerShare = (suts.length - 1) * (PLAN.peerThroughputS > 0 ? PLAN.peerThroughputS + 15 : 0);
  await step(`signup_throughput ours ${PLAN.throughputS} s`, PLAN.throughputS + 5, async () => {
    const drain = Math.max(3, Math.min(PLAN.drainMaxS, remainingS() - PLAN.throughputS - 2 - peerShare));
    oursTp = await scenarioThroughput(suts[0], PLAN.throughputS, drain);
  });
  for (const sut of suts.slice(1)) {
    if (PLAN.peerThroughputS <= 0) continue;
    await step(`signup_throughput ${sut.system} ${PLAN.peerThroughputS} s`, PLAN.peerThroughputS + 8, async () => {
      peerTp.push(await scenarioThroughput(sut, PLAN.peerThroughputS, Math.max(3, Math.min(30, remainingS() - PLAN.peerThroughputS - 2))));
    });
  }

  // Results first (a cleanup that overruns must not lose them), then cleanup, then again with its outcome.
  let out = buildOutput(floor, startup.startup_s, load0, oursTp, peerTp, []);
  writeResults(out, markdown(out, floor, oursTp, peerTp));
  log('cleanup: stopping processes, ending this run\'s open workflows, deleting its emails');
  await stopAll();
  const cleanup: string[] = [];
  try {
    cleanup.push(await terminateBenchWorkflows([QUEUE, QUEUE_STALLED]));
  } catch (err) {
    cleanup.push(`workflow cleanup failed: ${(err as Error).message}`);
  }
  try {
    const budget = Math.max(3, PLAN.hardS - elapsedS() - 4);
    cleanup.push(`${await mail.deleteMatching(`b-${RUN}-`, budget * 1000)} of this run's emails deleted from MailDev`);
  } catch (err) {
    cleanup.push(`MailDev cleanup failed: ${(err as Error).message}`);
  }
  out = buildOutput(floor, startup.startup_s, load0, oursTp, peerTp, cleanup);
  const md = markdown(out, floor, oursTp, peerTp);
  writeResults(out, md);
  process.stdout.write(md + '\n');
  log(`done in ${elapsedS().toFixed(0)} s: bench/results/${OUT_NAME}.{json,md,svg}`);
  clearTimeout(hardStop);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping every process this run started`);
    killAllSupervised();
    process.exit(130);
  });
}
process.once('exit', () => killAllSupervised());

main().then(() => process.exit(0), async (err) => {
  log(`FAILED: ${(err as Error).stack ?? String(err)}`);
  await stopAll().catch(() => undefined);
  process.exit(1);
});
