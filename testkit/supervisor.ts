import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { eventually } from './wait';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

const live = new Set<SupervisedProcess>();
let exitHookInstalled = false;

/** Kills every process group this run started (synchronous: safe in an 'exit' handler). */
export function killAllSupervised(): void {
  for (const p of live) p.kill9();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', killAllSupervised);
}

/**
 * One of our processes (API, worker, DB processor, a baseline server) as a separate OS process in a
 * process group of its own (detached: tsx starts a second node process), so a stop or a kill -9
 * takes the whole group down, like a crash of the machine it runs on. Output goes to a log file.
 * It can be started again after it ended (chaos restarts what it killed).
 */
export class SupervisedProcess {
  private child?: ChildProcess;
  private exitPromise?: Promise<number | null>;
  pid?: number;
  startedAt = 0;
  /** Set when we sent the signal that ended it (kill9 or stop). */
  stoppedByUs = false;
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number };

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: readonly string[],
    readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
    /** The URL that answers 200 once the process is ready (its /health/ready or /health/live). */
    readonly healthUrl?: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): this {
    if (this.running) throw new Error(`${this.name} is already running`);
    installExitHook();
    mkdirSync(path.dirname(this.logFile), { recursive: true });
    const fd = openSync(this.logFile, 'a');
    writeSync(fd, `=== ${new Date().toISOString()} ${this.name}: start ${[this.command, ...this.args].join(' ')} ===\n`);
    const child = spawn(this.command, [...this.args], { cwd: REPO_ROOT, env: this.env, detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    this.pid = child.pid;
    this.startedAt = Date.now();
    this.stoppedByUs = false;
    this.exit = undefined;
    this.exitPromise = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolve(code);
      }),
    );
    live.add(this);
    void this.exitPromise.then(() => live.delete(this));
    return this;
  }

  /** SIGKILL to the whole process group: no shutdown hooks, no flushing. */
  kill9(): void {
    if (!this.pid || !this.running) return;
    this.stoppedByUs = true;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Waits until the process is gone (after kill9 or stop); false when it is still there after `timeoutMs`. */
  async exited(timeoutMs = 10_000): Promise<boolean> {
    if (!this.exitPromise || !this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.exitPromise.then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM to the group (graceful shutdown), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.pid || !this.running) return;
    this.stoppedByUs = true;
    try {
      process.kill(-this.pid, 'SIGTERM');
    } catch {
      return;
    }
    if (!(await this.exited(graceMs))) {
      this.kill9();
      await this.exited(5_000);
    }
  }

  /** How it ended, for reports ("exit code 1", "signal SIGKILL"). */
  describeExit(): string {
    if (!this.exit) return 'running';
    return this.exit.signal ? `signal ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  logTail(lines = 25): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Until `url` (the health URL by default) answers so that `ok(status, body)` holds. Fails when
   * the process exits or after `timeoutMs`, with the last answer and the log's tail. Returns the
   * milliseconds it took.
   */
  async waitReady(timeoutMs: number, url = this.healthUrl, ok: (status: number, body: string) => boolean = (s) => s === 200): Promise<number> {
    if (!url) throw new Error(`${this.name} has no health URL`);
    const t0 = Date.now();
    let last = 'no answer';
    try {
      await eventually(async () => {
        if (!this.running) return 'exited';
        const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
        const body = await res.text();
        last = `${res.status} ${body.slice(0, 200)}`;
        return ok(res.status, body) ? 'ready' : undefined;
      }, timeoutMs, `${this.name} at ${url}`, 300).then((state) => {
        if (state === 'exited') throw new Error('exited');
      });
    } catch {
      const why = this.running ? `not ready at ${url} after ${timeoutMs} ms (last: ${last})` : `exited (${this.describeExit()}) while starting`;
      throw new Error(`${this.name} ${why}; log ${this.logFile}:\n${this.logTail()}`);
    }
    return Date.now() - t0;
  }
}

/** `node [nodeArgs] --import tsx <script>` (node flags such as --cpu-prof are refused in NODE_OPTIONS). */
export function tsxProcess(name: string, script: string, env: NodeJS.ProcessEnv, logFile: string, opts: { healthUrl?: string; nodeArgs?: readonly string[] } = {}): SupervisedProcess {
  const abs = path.isAbsolute(script) ? script : path.join(REPO_ROOT, script);
  return new SupervisedProcess(name, process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', abs], env, logFile, opts.healthUrl);
}

/** Runs a command to its end (or SIGKILL after `timeoutMs`); its exit code and output. */
export function runToEnd(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port nobody listens on right now (the kernel's choice for port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
