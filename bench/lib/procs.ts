import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every child this run started, so an interrupted run still stops them (by their own group id). */
const running = new Set<Proc>();

export class Proc {
  readonly child: ChildProcess;
  exited = false;
  exitCode: number | null = null;

  constructor(
    readonly name: string,
    readonly logFile: string,
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    const fd = openSync(logFile, 'a');
    // detached: a process group of its own (tsx starts a second node process), stopped as a group.
    this.child = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    running.add(this);
    this.child.once('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
      running.delete(this);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  logTail(lines = 25): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private signal(sig: NodeJS.Signals) {
    if (this.exited || this.pid <= 0) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      try {
        process.kill(this.pid, sig);
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`. */
  async stop(graceMs = 8000): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await Promise.race([done, sleep(graceMs + 2000)]);
    clearTimeout(t);
    // The group may hold a grandchild that outlived its parent.
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // group gone
    }
  }

  static killAllNow(): void {
    for (const p of running) p.signal('SIGKILL');
  }
}

/** `tsx script`; with node flags (--cpu-prof is refused in NODE_OPTIONS), `node <flags> --import tsx script`. */
export function startTsx(name: string, logDir: string, script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Proc {
  const log = path.join(logDir, `${name}.log`);
  if (nodeArgs.length) return new Proc(name, log, process.execPath, [...nodeArgs, '--import', 'tsx', script], env);
  return new Proc(name, log, TSX, [script], env);
}

export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Polls `url` until `ok(status, body)` holds. Fails when the process exits or after `timeoutMs`,
 * with the last answer and the log's tail.
 */
export async function waitHttp(
  proc: Proc,
  url: string,
  timeoutMs: number,
  ok: (status: number, body: string) => boolean = (s) => s === 200,
): Promise<number> {
  const t0 = Date.now();
  let last = 'no answer';
  while (Date.now() - t0 < timeoutMs) {
    if (proc.exited) throw new Error(`${proc.name} exited (code ${proc.exitCode}) while starting; log ${proc.logFile}:\n${proc.logTail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      const body = await res.text();
      if (ok(res.status, body)) return Date.now() - t0;
      last = `${res.status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`${proc.name} not ready at ${url} after ${timeoutMs} ms (last: ${last}); log ${proc.logFile}:\n${proc.logTail()}`);
}

export function runToEnd(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}
