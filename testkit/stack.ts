import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './supervisor';

/**
 * The infrastructure as scripts/stack.sh sees it. CHAOS_STACK_ROOT points at another checkout's
 * stack (its own .env with other ports) so a fault-injection run need not disturb the shared one.
 */
export interface StackEnv {
  root: string;
  script: string;
  /** Where this stack keeps its data, logs and pid files (CFD_DATA_DIR). */
  dataDir: string;
  /** Settings given to every scripts/stack.sh call (a private stack's ports and data directory). */
  env: Record<string, string>;
  /** Where the app processes of an `npm start` on this stack answer. */
  apps: { api: number; worker: number; dbProcessor: number };
  DATABASE_URL: string;
  REDIS_URL: string;
  KAFKA_BROKERS: string;
  TEMPORAL_ADDRESS: string;
  SMTP_URL: string;
  MAILDEV_URL: string;
}

const KEYS = ['DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS', 'TEMPORAL_ADDRESS', 'SMTP_URL', 'MAILDEV_URL'] as const;
const MORE = ['CFD_DATA_DIR', 'API_PORT', 'WORKER_HEALTH_PORT', 'DB_PROCESSOR_HEALTH_PORT'] as const;
/** The ports a private stack moves (by CHAOS_PORT_OFFSET); Postgres stays shared. */
const PRIVATE_PORTS = ['REDIS_PORT', 'KAFKA_PORT', 'KAFKA_CONTROLLER_PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'SMTP_PORT', 'MAILDEV_WEB_PORT'] as const;

function readEnvSh(root: string, keys: readonly string[], extra: Record<string, string>): string[] {
  const out = execFileSync(
    'bash',
    ['-c', `. "$0/scripts/lib/env.sh" >/dev/null && printf '%s\\n' ${keys.map((k) => `"$${k}"`).join(' ')}`, root],
    { encoding: 'utf8', timeout: 15_000, env: scriptEnv(extra) },
  );
  const values = out.trimEnd().split('\n');
  if (values.length !== keys.length || values.some((v) => !v)) throw new Error(`could not read the stack settings from ${root}/scripts/lib/env.sh`);
  return values;
}

/** Reads the connection settings from scripts/lib/env.sh (environment, then .env, then defaults). */
export function loadStackEnv(root = process.env.CHAOS_STACK_ROOT ?? REPO_ROOT, extra: Record<string, string> = {}): StackEnv {
  const values = readEnvSh(root, [...KEYS, ...MORE], extra);
  const env = Object.fromEntries(KEYS.map((k, i) => [k, values[i]])) as Record<(typeof KEYS)[number], string>;
  const [dataDir, api, worker, dbProcessor] = values.slice(KEYS.length);
  return {
    root,
    script: path.join(root, 'scripts', 'stack.sh'),
    dataDir,
    env: extra,
    apps: { api: Number(api), worker: Number(worker), dbProcessor: Number(dbProcessor) },
    ...env,
  };
}

/**
 * A second stack of this checkout for fault injection: its own Redis, Kafka, Temporal and MailDev
 * on this checkout's ports plus CHAOS_PORT_OFFSET (20000), its data in .data/chaos-stack; the
 * Postgres of this checkout is shared (every scenario has emails of its own). Nothing an
 * `npm start` or `npm test` uses is stopped or restarted.
 */
export function privateStackEnv(root = REPO_ROOT): StackEnv {
  const offset = Number(process.env.CHAOS_PORT_OFFSET ?? 20_000);
  const base = readEnvSh(root, [...PRIVATE_PORTS, 'DATABASE_URL', 'CFD_DATA_DIR'], {});
  const ports = Object.fromEntries(PRIVATE_PORTS.map((k, i) => [k, Number(base[i]) + offset]));
  for (const [k, p] of Object.entries(ports)) if (!(p > 1024 && p < 65536)) throw new Error(`private stack: ${k} would be ${p}; set CHAOS_PORT_OFFSET`);
  const dataDir = path.join(base[PRIVATE_PORTS.length + 1], 'chaos-stack');
  const extra: Record<string, string> = {
    ...Object.fromEntries(Object.entries(ports).map(([k, p]) => [k, String(p)])),
    CFD_DATA_DIR: dataDir,
    DATABASE_URL: base[PRIVATE_PORTS.length],
    REDIS_URL: `redis://127.0.0.1:${ports.REDIS_PORT}`,
    KAFKA_BROKERS: `127.0.0.1:${ports.KAFKA_PORT}`,
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.TEMPORAL_PORT}`,
    TEMPORAL_UI_URL: `http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`,
    SMTP_URL: `smtp://127.0.0.1:${ports.SMTP_PORT}`,
    MAILDEV_URL: `http://127.0.0.1:${ports.MAILDEV_WEB_PORT}`,
    // The URLs above are this stack's own services, not external ones (Postgres is shared).
    EXTERNAL_POSTGRES: '1',
    EXTERNAL_REDIS: '0',
    EXTERNAL_KAFKA: '0',
    EXTERNAL_TEMPORAL: '0',
    EXTERNAL_SMTP: '0',
    // No app of an `npm start` answers here.
    API_PORT: '1',
    WORKER_HEALTH_PORT: '1',
    DB_PROCESSOR_HEALTH_PORT: '1',
  };
  return loadStackEnv(root, extra);
}

/** Environment for the stack script: the caller's plus the stack's own settings. */
function scriptEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // Another root brings its own .env; our URLs would mark its services external.
  if (process.env.CHAOS_STACK_ROOT) for (const k of KEYS) delete env[k];
  return { ...env, ...extra };
}

/** Runs `scripts/stack.sh <args>`; rejects on a non-zero exit or after `timeoutMs` (its process group is killed). */
export function stackCommand(stack: StackEnv, args: string[], timeoutMs = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [stack.script, ...args], { cwd: stack.root, env: scriptEnv(stack.env), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`stack.sh ${args.join(' ')} took over ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`stack.sh ${args.join(' ')} exited ${code}:\n${output}`));
    });
  });
}

/** Applies pending migrations (scripts/migrate.ts) to the stack's database. */
export function migrate(stack: StackEnv, timeoutMs = 120_000): void {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'migrate.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: stack.DATABASE_URL },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
}
