/**
 * Our system against an earlier revision of itself, in the same run (README "Benchmark"):
 *   npm run bench:against -- 56a16e6          (ROUNDS=4 by default)
 *
 * The earlier revision runs from a git worktree, on the stack's Postgres (a database of its own,
 * `<db>_against`, migrated by its own scripts), Redis, Temporal (its own task queue) and MailDev, but
 * on a plaintext Kafka broker of its own: revisions before the guarantees issue speak neither SASL nor
 * the MAC'd envelopes, and the stack's broker admits only authenticated, authorised clients. Each
 * side runs its own DB processor, worker and API; rate limits are on in both, raised out of reach
 * (the earlier revisions cannot turn them off). Rounds alternate the order; per round and side:
 * signups one at a time, then at 10 connections, every code awaited (so the background work is
 * over), verifies, sign-ins (with the device cookie the verify set), and `/me` at 50 connections
 * with the API's CPU per request from /proc. CPU per signup (first signup to last code mailed) per
 * process: the side's API, worker and DB processor, the Temporal server, its Kafka broker, Postgres,
 * Redis, MailDev, and the whole machine (the sides take turns, so what the shared servers spend in a round is that side's).
 * Results: bench/results/against-<rev>.{json,md}, medians and current ÷ earlier.
 * AGAINST_CPU_PROF=<dir>: every process of both sides also writes a V8 CPU profile into <dir>.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '../common/config';
import { withDb } from '../testkit/db';
import { waitCodes } from '../testkit/maildev';
import { freePort, portFree, REPO_ROOT } from '../testkit/supervisor';
import { eventually, sleep } from '../testkit/wait';
import { BENCH_EMAIL_DOMAIN } from './clean';
import { cpuMsMatching, cpuPerUnit, cpuSnapshot, groupCpuMs, STACK_SERVICES } from './lib/rss';
import { terminateBenchWorkflows } from './infra';
import { deviceCookie } from './systems';

const rev = process.argv[2] ?? '56a16e6';
const ROUNDS = Number(process.env.ROUNDS ?? 4);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`ROUNDS must be a whole number ≥ 1, got ${process.env.ROUNDS}`);
const N1 = 30;
const NC = 60;
const CONC = 10;
const NV = 8;
const ME_S = 6;
const PASSWORD = 'a sturdy bench passphrase';
const KAFKA_VERSION = '3.9.1';
const stamp = Date.now();
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

const answers = (url: string) => () => fetch(url).then((r) => r.status === 200);
/** Polls `probe` until it holds (testkit's `eventually`), failing with `what`. */
const until = (what: string, probe: () => Promise<boolean>, timeoutMs = 120_000) => eventually(async () => ((await probe()) ? true : undefined), timeoutMs, what, 300);

/** The earlier revision's checkout; its dependencies must be ours (same versions), so node_modules is shared. */
function checkout(dir: string): void {
  execFileSync('git', ['worktree', 'add', '--detach', dir, rev], { cwd: REPO_ROOT, stdio: 'ignore' });
  const deps = (p: string) => {
    const j = JSON.parse(readFileSync(p, 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    return { ...j.dependencies, ...j.devDependencies };
  };
  const ours = deps(path.join(REPO_ROOT, 'package.json'));
  const differ = Object.entries(deps(path.join(dir, 'package.json'))).filter(([k, v]) => !k.startsWith('@types/') && ours[k] !== v);
  if (differ.length) throw new Error(`${rev} depends on versions we do not have installed: ${differ.map(([k, v]) => `${k}@${v}`).join(', ')}`);
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
}

/** A plaintext single-node KRaft broker on loopback, for the earlier revision only. */
async function startKafka(dir: string): Promise<{ brokers: string; proc: ChildProcess }> {
  const libs = path.join(process.env.CFD_CACHE ?? path.join(os.homedir(), '.cache/cfd-auth'), `kafka-${KAFKA_VERSION}`, 'libs');
  if (!existsSync(libs)) throw new Error(`no Kafka jars in ${libs}: run npm run stack:up once`);
  const [port, controller] = [await freePort(), await freePort()];
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const props = path.join(dir, 'server.properties');
  writeFileSync(props, [
    'process.roles=broker,controller', 'node.id=1', `controller.quorum.voters=1@127.0.0.1:${controller}`, 'controller.listener.names=CONTROLLER',
    `log.dirs=${path.join(dir, 'logs')}`, 'num.partitions=6', 'default.replication.factor=1', 'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1', 'transaction.state.log.min.isr=1', 'group.initial.rebalance.delay.ms=0', 'auto.create.topics.enable=false',
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`, `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT', 'inter.broker.listener.name=PLAINTEXT', '',
  ].join('\n'));
  const java = (...args: string[]) => execFileSync('java', ['-cp', `${libs}/*`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const id = java('kafka.tools.StorageTool', 'random-uuid').trim().split('\n').pop()!;
  java('kafka.tools.StorageTool', 'format', '-t', id, '-c', props);
  const log = openSync(path.join(dir, 'kafka.log'), 'a');
  const proc = spawn('java', ['-Xms256m', '-Xmx512m', '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${REPO_ROOT}/scripts/kafka/log4j.properties`, '-cp', `${libs}/*`, 'kafka.Kafka', props], { detached: true, stdio: ['ignore', log, log] });
  await until('the earlier revision\'s Kafka', async () => !(await portFree(port)), 60_000);
  return { brokers: `127.0.0.1:${port}`, proc };
}

interface Side {
  name: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  ports: { api: number; worker: number; dbp: number };
  procs: ChildProcess[];
  /** CPU ms used so far by the Kafka broker this side talks to. */
  brokerCpuMs: () => number | null;
  cookies: string[];
  /** Verified accounts, with the device cookie their verify set (a browser sends it back at sign-in). */
  accounts: { email: string; device?: string }[];
}

function startSide(side: Side, logDir: string): void {
  const run = (script: string, tag: string) => {
    const fd = openSync(path.join(logDir, `${side.name}-${tag}.log`), 'a');
    // AGAINST_CPU_PROF=<dir>: each process writes a V8 CPU profile there when it stops (<dir>/<side>-<tag>/).
    const prof = process.env.AGAINST_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.join(process.env.AGAINST_CPU_PROF, `${side.name}-${tag}`)}`] : [];
    return spawn(process.execPath, [...prof, '--import', 'tsx', path.join(side.dir, script)], { cwd: side.dir, env: side.env, detached: true, stdio: ['ignore', fd, fd] });
  };
  side.procs = [run('db-processor/main.ts', 'dbp'), run('workflows/worker.ts', 'worker'), run('api/main.ts', 'api')];
}

async function post(side: Side, p: string, body: unknown, cookie?: string) {
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${side.ports.api}/api/v1/auth${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });
  await r.text();
  const setCookies = r.headers.getSetCookie();
  return { ms: performance.now() - t0, status: r.status, cookie: setCookies.map((c) => c.split(';')[0]).join('; '), device: deviceCookie({ 'set-cookie': setCookies }) };
}

// The stack's services but Kafka (each side has its own broker); Temporal as one figure, whichever topology the stack runs.
const { kafka: _sharedBroker, temporal, 'temporal-server': temporalServer, ...others } = STACK_SERVICES;
const SHARED_SERVICES = { ...others, temporal: (c: string) => temporal(c) || temporalServer(c) };

/** One round of one side; the figures of the round. */
async function round(side: Side, seq: { n: number }): Promise<Record<string, number>> {
  // The bench's address form, so `npm run bench -- --clean` removes these accounts and mails too.
  // One token per round: one poller finds the round's codes (a poller per signup, ~100 of them
  // hitting MailDev every 250 ms, was itself a large share of the machine's CPU per signup).
  const batch = `b-against${stamp}x${seq.n}-`;
  const address = () => `${batch}${seq.n++}${BENCH_EMAIL_DOMAIN}`;
  const expect = (what: string, status: number, want: number) => {
    if (status !== want) throw new Error(`${side.name}: ${what} answered ${status}, not ${want}`);
  };
  const emails: string[] = [];
  // CPU from the first signup until every code is out: the signups' whole work, per process. The
  // sides take turns, so the shared Temporal server's (and the machine's) CPU in this span is theirs.
  const cpu = () => ({ ...cpuSnapshot({ api: side.procs[2].pid, worker: side.procs[1].pid, dbp: side.procs[0].pid }, SHARED_SERVICES), kafka: side.brokerCpuMs() });
  const cpuBefore = cpu();
  const one: number[] = [];
  for (let i = 0; i < N1; i++) {
    const email = address();
    emails.push(email);
    const r = await post(side, '/signup', { email });
    expect('signup', r.status, 202);
    one.push(r.ms);
  }
  const many: number[] = [];
  let sent = 0;
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (sent < NC) {
      sent++;
      const email = address();
      emails.push(email);
      const r = await post(side, '/signup', { email });
      expect('signup', r.status, 202);
      many.push(r.ms);
    }
  }));
  // Every code delivered: the signups' background work is over before verify and sign-in are timed.
  const got = await waitCodes(batch, emails, 120_000);
  const cpuAfter = cpu();
  const codes = emails.map((e) => got.get(e.toLowerCase()));
  if (codes.some((c) => !c)) throw new Error(`${side.name}: ${codes.filter((c) => !c).length} of ${emails.length} codes not in MailDev within 120 s`);
  const perSignup = Object.fromEntries(Object.entries(cpuPerUnit(cpuBefore, cpuAfter, emails.length)).map(([k, v]) => [`signup_cpu_ms_${k}`, v ?? NaN]));
  const verify: number[] = [];
  for (let i = 0; i < NV; i++) {
    const r = await post(side, '/verify', { email: emails[i], otp: codes[i], password: PASSWORD, name: 'Bench User' });
    expect('verify', r.status, 201);
    verify.push(r.ms);
    side.cookies.push(r.cookie);
    side.accounts.push({ email: emails[i], device: r.device });
  }
  // A returning user, from the browser that signed up (as in `npm run bench`): the device cookie
  // goes back, so no new-device notice is mailed (an earlier revision sets none and ignores it).
  const signin: number[] = [];
  for (let i = 0; i < NV; i++) {
    const account = side.accounts[side.accounts.length - 1 - i];
    const r = await post(side, '/signin', { email: account.email, password: PASSWORD }, account.device);
    expect('signin', r.status, 200);
    signin.push(r.ms);
  }
  let k = 0;
  const api = side.procs[2].pid;
  const cpu0 = groupCpuMs(api);
  const me = await autocannon({
    url: `http://127.0.0.1:${side.ports.api}/api/v1/auth/me`, connections: 50, duration: ME_S,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, headers: { cookie: side.cookies[k++ % side.cookies.length] } }) }],
  });
  const cpu1 = groupCpuMs(api);
  if (me.non2xx > 0) throw new Error(`${side.name}: ${me.non2xx} of /me answered other than 2xx`);
  return {
    signup_c1_p50_ms: med(one), signup_c10_p50_ms: med(many), verify_p50_ms: med(verify), signin_p50_ms: med(signin),
    me_c50_rps: me.requests.average, me_api_cpu_ms_per_req: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / me.requests.total : NaN,
    ...perSignup,
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const tmp = mkdtempSync(path.join(os.tmpdir(), `bench-against-${rev}-`));
  const worktree = path.join(tmp, 'checkout');
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(tmp, { recursive: true, force: true })];
  const sides: Side[] = [];
  try {
    checkout(worktree);
    cleanups.unshift(() => {
      execFileSync('git', ['worktree', 'remove', '--force', worktree], { cwd: REPO_ROOT, stdio: 'ignore' });
    });
    const kafka = await startKafka(path.join(tmp, 'kafka'));
    cleanups.unshift(async () => {
      try { process.kill(-kafka.proc.pid!, 'SIGTERM'); } catch { /* gone */ }
      await sleep(3000);
    });
    const dbUrl = new URL(config.DATABASE_URL);
    const dbName = `${dbUrl.pathname.slice(1)}_against`;
    await withDb(config.DATABASE_URL, async (sql) => {
      if ((await sql('select 1 from pg_database where datname = ?', [dbName])).length === 0) await sql(`create database "${dbName}"`);
    });
    dbUrl.pathname = `/${dbName}`;
    const limits = {
      RATE_LIMITS_ENABLED: 'true', RATE_SIGNUP_PER_IP_HOUR: '100000000', RATE_SIGNUP_PER_EMAIL_HOUR: '1000', RATE_VERIFY_PER_IP_15MIN: '100000000',
      RATE_VERIFY_PER_EMAIL_DAY: '1000', RATE_SIGNIN_FAIL_PER_EMAIL_IP: '1000', RATE_SIGNIN_FAIL_PER_EMAIL_DAY: '1000', RATE_SIGNIN_FAIL_PER_IP_DAY: '100000000',
    };
    const base = { ...process.env, ...limits, LOG_LEVEL: 'warn', BCRYPT_COST: '10', API_METRICS_PORT: '0', WORKER_TEMPORAL_METRICS_PORT: '0', OTEL_EXPORTER_OTLP_ENDPOINT: '' };
    const earlier: NodeJS.ProcessEnv = { ...base, KAFKA_BROKERS: kafka.brokers, DATABASE_URL: dbUrl.toString(), RATE_LIMIT_KEY_PREFIX: 'rlagainst' };
    delete earlier.KAFKA_SASL_MECHANISM;
    delete earlier.OTEL_EXPORTER_OTLP_ENDPOINT;
    const tsx = (dir: string, script: string, env: NodeJS.ProcessEnv) => execFileSync(process.execPath, ['--import', 'tsx', path.join(dir, script)], { cwd: dir, env, stdio: 'ignore', timeout: 120_000 });
    tsx(worktree, 'scripts/migrate.ts', earlier);
    if (existsSync(path.join(worktree, 'scripts/ensure-topics.ts'))) tsx(worktree, 'scripts/ensure-topics.ts', earlier);
    const current: NodeJS.ProcessEnv = { ...base, RATE_LIMIT_KEY_PREFIX: 'rlcurrent' };
    delete current.OTEL_EXPORTER_OTLP_ENDPOINT;
    for (const [name, dir, env] of [[rev, worktree, earlier], ['current', REPO_ROOT, current]] as const) {
      const ports = { api: await freePort(), worker: await freePort(), dbp: await freePort() };
      const side: Side = {
        name, dir, ports, procs: [], cookies: [], accounts: [],
        brokerCpuMs: name === rev ? () => groupCpuMs(kafka.proc.pid) : () => cpuMsMatching((c) => STACK_SERVICES.kafka(c) && !c.includes(tmp)),
        env: { ...env, TEMPORAL_TASK_QUEUE: `bench-against-${stamp}-${name}`, API_PORT: String(ports.api), WORKER_HEALTH_PORT: String(ports.worker), DB_PROCESSOR_HEALTH_PORT: String(ports.dbp) },
      };
      sides.push(side);
      startSide(side, tmp);
    }
    // Unverified signups wait a day for their code, and nothing serves these task queues afterwards.
    cleanups.unshift(async () => console.log(`[against] ${await terminateBenchWorkflows({ run: `against-${stamp}`, config }, sides.map((s) => s.env.TEMPORAL_TASK_QUEUE!))}`));
    cleanups.unshift(async () => {
      for (const s of sides) for (const p of s.procs) try { process.kill(-p.pid!, 'SIGTERM'); } catch { /* gone */ }
      await sleep(5000);
    });
    await Promise.all(sides.flatMap((s) => [until(`${s.name} api`, answers(`http://127.0.0.1:${s.ports.api}/health/ready`)), until(`${s.name} worker`, answers(`http://127.0.0.1:${s.ports.worker}/health/ready`)), until(`${s.name} db processor`, answers(`http://127.0.0.1:${s.ports.dbp}/health/ready`))]));

    const figures: Record<string, Record<string, number[]>> = {};
    const seq = { n: 0 };
    for (let r = -1; r < ROUNDS; r++) {
      for (const side of r % 2 ? [...sides].reverse() : sides) {
        const got = await round(side, seq);
        if (r < 0) continue; // warm-up
        for (const [k, v] of Object.entries(got)) ((figures[side.name] ??= {})[k] ??= []).push(v);
        console.log(`[against] round ${r + 1}/${ROUNDS} ${side.name}: ${Object.entries(got).map(([k, v]) => `${k} ${v.toFixed(k.includes('per_req') ? 3 : 1)}`).join(', ')}`);
      }
    }
    const rows = Object.keys(figures[rev]).map((k) => {
      const [a, b] = [med(figures[rev][k]), med(figures.current[k])];
      return { measure: k, [rev]: a, current: b, current_over_earlier: Math.round((b / a) * 1000) / 1000 };
    });
    const out = path.join(REPO_ROOT, 'bench/results', `against-${rev}`);
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)} at the end`;
    writeFileSync(`${out}.json`, JSON.stringify({ rev, date: new Date(stamp).toISOString(), machine, rounds: ROUNDS, figures, rows }, null, 1) + '\n');
    writeFileSync(`${out}.md`, [
      `## Current against ${rev}, same run (${new Date(stamp).toISOString()})`, '',
      `${machine}. ${ROUNDS} rounds alternated (after one warm-up round each), medians; bcrypt cost 10, rate limits on and out of reach in both. Latency: below 1 is better; req/s: above 1 is better; CPU: below 1 is better.`, '',
      `| measure | ${rev} | current | current ÷ ${rev} |`, '|---|---:|---:|---:|',
      ...rows.map((r) => `| ${r.measure} | ${(r[rev] as number).toFixed(r.measure.includes('per_req') ? 3 : 1)} | ${r.current.toFixed(r.measure.includes('per_req') ? 3 : 1)} | ${r.current_over_earlier} |`), '',
    ].join('\n'));
    console.log(readFileSync(`${out}.md`, 'utf8'));
  } finally {
    for (const c of cleanups) await Promise.resolve().then(c).catch((err: unknown) => console.error(`[against] cleanup: ${(err as Error).message}`));
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
