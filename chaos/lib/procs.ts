import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, waitUntil } from './util';

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

/** Kills every process group we started (synchronous: safe in an 'exit' handler). */
export function killAllManaged(): void {
  for (const p of live) p.kill9();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', killAllManaged);
}

/**
 * One service of ours (API, worker, DB processor) as a separate OS process: `node --import tsx
 * <script>` in a process group of its own (detached), so kill -9 of the group takes it down whole,
 * like a crash of the machine it runs on. Output goes to a log file.
 */
export class ManagedProcess {
  private child?: ChildProcess;
  private exitPromise?: Promise<number | null>;
  pid?: number;
  startedAt = 0;
  /** Set when we sent the signal that ended it (kill9 or stop). */
  stoppedByUs = false;
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number };

  constructor(
    readonly name: string,
    readonly script: string,
    readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
    readonly healthUrl: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    installExitHook();
    mkdirSync(path.dirname(this.logFile), { recursive: true });
    const fd = openSync(this.logFile, 'a');
    writeSync(fd, `=== ${new Date().toISOString()} ${this.name}: start ${this.script} ===\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', this.script], {
      cwd: REPO_ROOT,
      env: this.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
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

  /** Waits until the process is gone (after kill9 or stop). */
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

  /** SIGTERM (graceful shutdown), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.pid || !this.running) return;
    this.stoppedByUs = true;
    try {
      process.kill(-this.pid, 'SIGTERM');
    } catch {
      return;
    }
    if (!(await this.exited(timeoutMs))) {
      this.kill9();
      await this.exited(5_000);
    }
  }

  /** How it ended, for the report ("exit code 1", "signal SIGKILL"). */
  describeExit(): string {
    if (!this.exit) return 'running';
    return this.exit.signal ? `signal ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  /** Until the health URL answers 200 (or the process dies, or the time is up). */
  async waitReady(timeoutMs: number): Promise<void> {
    const ok = await waitUntil(async () => {
      if (!this.running) throw new Error('exited');
      const res = await fetch(this.healthUrl, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return res.status === 200;
    }, timeoutMs, 300);
    if (!this.running) throw new Error(`${this.name} exited while starting (log: ${this.logFile})`);
    if (!ok) throw new Error(`${this.name} not ready after ${timeoutMs} ms (log: ${this.logFile})`);
  }
}

export const tsScript = (rel: string) => path.join(REPO_ROOT, rel);
