/**
 * `npx tsx bench/node-versions.ts [node24] [node20]`: the same compiled API (dist/, `npm run build`)
 * under two Node binaries, in one run, alternating (20, 24, 20, 24) so drift of the shared machine
 * hits both alike, the first of each round alternating. Bounded: about 2.5 minutes in all.
 *
 *   /me       autocannon GET /api/v1/auth/me with a real session (Redis), 20 connections, 6 s
 *   invalid   autocannon POST /api/v1/auth/signin with an invalid body (400: parsing, validation,
 *             error mapping, no I/O), 20 connections, 4 s
 *   bcrypt    the CPU part of a signin: median of 8 compares at cost 12, and 8 compares 4 at a time
 *             (libuv's pool), in a child process of each Node
 *
 * Signin end to end is not run here: it needs a DB processor in the shared consumer group. Writes
 * bench/results/node-versions.{json,md}.
 */
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SessionStore } from '../api/sessions/session.store';
import { signSessionToken, tokenConfig } from '../api/sessions/token';
import { loadConfig } from '../common/config';
import { portFree, REPO_ROOT } from '../testkit/supervisor';
import { sleep } from '../testkit/wait';

const node24 = process.argv[2] ?? path.join(process.env.CFD_CACHE || path.join(os.homedir(), '.cache/cfd-auth'), 'node/24.22.3/bin/node');
const node20 = process.argv[3] ?? '/usr/bin/node';
const ROUNDS = 4;

const version = (bin: string) => execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();

async function freePort(from: number): Promise<number> {
  for (let p = from; p < from + 200; p++) if (await portFree(p)) return p;
  throw new Error('no free port');
}

async function startApi(bin: string, port: number): Promise<ChildProcess> {
  const child = spawn(bin, ['dist/api/main.js'], {
    cwd: REPO_ROOT,
    env: { ...process.env, API_PORT: String(port), LOG_LEVEL: 'warn', RATE_LIMITS_ENABLED: 'false', NODE_ENV: 'development' },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false);
    if (ok) return child;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the API under ${bin} did not become ready`);
    await sleep(200);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([done, sleep(10_000).then(() => child.kill('SIGKILL'))]);
}

async function cannon(opts: autocannon.Options): Promise<{ rps: number; p50: number; p99: number; non2xx: number }> {
  const r = await autocannon({ ...opts, connections: 20 });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx };
}

function bcryptProbe(bin: string): { medianMs: number; parallel8Ms: number } {
  const script = `
    const bcrypt = require('bcrypt');
    (async () => {
      const hash = await bcrypt.hash('correct horse battery staple', 12);
      const times = [];
      for (let i = 0; i < 8; i++) { const t = performance.now(); await bcrypt.compare('correct horse battery staple', hash); times.push(performance.now() - t); }
      times.sort((a, b) => a - b);
      const t = performance.now();
      await Promise.all(Array.from({ length: 8 }, () => bcrypt.compare('wrong', hash)));
      console.log(JSON.stringify({ medianMs: (times[3] + times[4]) / 2, parallel8Ms: performance.now() - t }));
    })();`;
  return JSON.parse(execFileSync(bin, ['-e', script], { cwd: REPO_ROOT, encoding: 'utf8' }).trim());
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  if (!existsSync(path.join(REPO_ROOT, 'dist/api/main.js'))) throw new Error('dist/ is missing: npm run build');
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
  const redis = new Redis(config.REDIS_URL);
  const store = new SessionStore(redis, { absoluteMs: 3_600_000, idleMs: 3_600_000 });
  const { sid } = await store.create({ id: 'bench-node-versions', email: 'bench@example.invalid', name: 'Bench', createdAt: new Date().toISOString() }, {});
  const token = signSessionToken(tokenConfig(config), { sub: 'bench-node-versions', sid }, 3600);

  const bins = { '20': node20, '24': node24 } as const;
  const versions = { '20': version(node20), '24': version(node24) };
  const samples: Record<'20' | '24', Array<{ me: Awaited<ReturnType<typeof cannon>>; invalid: Awaited<ReturnType<typeof cannon>>; bcrypt: ReturnType<typeof bcryptProbe> }>> = { '20': [], '24': [] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which Node goes first, so a trend in the machine's load favours neither.
    for (const v of round % 2 ? (['24', '20'] as const) : (['20', '24'] as const)) {
      const port = await freePort(40300);
      const api = await startApi(bins[v], port);
      try {
        const base = `http://127.0.0.1:${port}/api/v1/auth`;
        await cannon({ url: `${base}/me`, duration: 2, headers: { cookie: `auth_token=${token}` } }); // warm-up
        const me = await cannon({ url: `${base}/me`, duration: 6, headers: { cookie: `auth_token=${token}` } });
        const invalid = await cannon({ url: `${base}/signin`, method: 'POST', duration: 4, headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:3000' }, body: '{"email":"not-an-email"}' });
        const bcrypt = bcryptProbe(bins[v]);
        samples[v].push({ me, invalid, bcrypt });
        process.stdout.write(`${versions[v]} round ${round + 1}: /me ${me.rps.toFixed(0)} req/s (non-2xx ${me.non2xx}), invalid ${invalid.rps.toFixed(0)} req/s, bcrypt ${bcrypt.medianMs.toFixed(1)} ms\n`);
      } finally {
        await stop(api);
      }
    }
  }
  await store.revoke('bench-node-versions', sid).catch(() => false);
  redis.disconnect();

  const summary = (v: '20' | '24') => ({
    node: versions[v],
    meRps: median(samples[v].map((s) => s.me.rps)),
    meP99Ms: median(samples[v].map((s) => s.me.p99)),
    invalidRps: median(samples[v].map((s) => s.invalid.rps)),
    bcryptCompareMs: median(samples[v].map((s) => s.bcrypt.medianMs)),
    bcrypt8ParallelMs: median(samples[v].map((s) => s.bcrypt.parallel8Ms)),
  });
  const a = summary('20');
  const b = summary('24');
  const ratio = (x: number, y: number) => +(y / x).toFixed(2);
  const result = {
    at: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`.trim(),
    rounds: ROUNDS,
    node20: a,
    node24: b,
    ratio24over20: {
      meRps: ratio(a.meRps, b.meRps),
      invalidRps: ratio(a.invalidRps, b.invalidRps),
      bcryptCompareMs: ratio(a.bcryptCompareMs, b.bcryptCompareMs),
      bcrypt8ParallelMs: ratio(a.bcrypt8ParallelMs, b.bcrypt8ParallelMs),
    },
    samples,
  };
  const out = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'node-versions.json'), JSON.stringify(result, null, 2) + '\n');
  const row = (name: string, k: keyof typeof a, unit: string) =>
    `| ${name} | ${Number(a[k]).toFixed(1)} ${unit} | ${Number(b[k]).toFixed(1)} ${unit} | ${ratio(Number(a[k]), Number(b[k]))} |`;
  const md = [
    `Node ${a.node} vs ${b.node}, ${result.machine}, ${result.at} (median of ${ROUNDS} rounds, alternating which Node goes first)`,
    '',
    '| measure | Node 20 | Node 24 | 24 / 20 |',
    '|---|---|---|---|',
    row('GET /me, 20 connections', 'meRps', 'req/s'),
    row('GET /me p99', 'meP99Ms', 'ms'),
    row('POST /signin invalid body (400)', 'invalidRps', 'req/s'),
    row('bcrypt compare, cost 12 (median)', 'bcryptCompareMs', 'ms'),
    row('8 bcrypt compares, 4 in flight', 'bcrypt8ParallelMs', 'ms'),
    '',
  ].join('\n');
  writeFileSync(path.join(out, 'node-versions.md'), md);
  process.stdout.write('\n' + md);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
