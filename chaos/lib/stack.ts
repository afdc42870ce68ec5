import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './util';

/**
 * The infrastructure as scripts/stack.sh sees it. CHAOS_STACK_ROOT points at another checkout's
 * stack (its own .env with other ports) so a fault-injection run need not disturb the shared one.
 */
export interface StackEnv {
  root: string;
  script: string;
  DATABASE_URL: string;
  REDIS_URL: string;
  KAFKA_BROKERS: string;
  TEMPORAL_ADDRESS: string;
  SMTP_URL: string;
  MAILDEV_URL: string;
}

const KEYS = ['DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS', 'TEMPORAL_ADDRESS', 'SMTP_URL', 'MAILDEV_URL'] as const;

/** Reads the connection settings from scripts/lib/env.sh (environment, then .env, then defaults). */
export function loadStackEnv(root = process.env.CHAOS_STACK_ROOT ?? REPO_ROOT): StackEnv {
  const out = execFileSync(
    'bash',
    ['-c', `. "$0/scripts/lib/env.sh" >/dev/null && printf '%s\\n' ${KEYS.map((k) => `"$${k}"`).join(' ')}`, root],
    { encoding: 'utf8', timeout: 15_000 },
  );
  const values = out.trimEnd().split('\n');
  if (values.length !== KEYS.length || values.some((v) => !v)) throw new Error(`could not read the stack settings from ${root}/scripts/lib/env.sh`);
  const env = Object.fromEntries(KEYS.map((k, i) => [k, values[i]])) as Record<(typeof KEYS)[number], string>;
  return { root, script: path.join(root, 'scripts', 'stack.sh'), ...env };
}

/** Environment for the stack script: the caller's, minus the URLs it would take for "external". */
function scriptEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (!process.env.CHAOS_STACK_ROOT) return env;
  // Another root brings its own .env; our URLs would mark its services external.
  for (const k of KEYS) delete env[k];
  return env;
}

/** Runs `scripts/stack.sh <args>`; rejects on a non-zero exit or after `timeoutMs` (its process group is killed). */
export function stackCommand(stack: StackEnv, args: string[], timeoutMs = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [stack.script, ...args], { cwd: stack.root, env: scriptEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
