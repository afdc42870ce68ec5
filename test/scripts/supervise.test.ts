/**
 * scripts/lib/supervise.sh, the supervisor `npm start` runs each application process under:
 * a process that exits is started again with a growing delay and one line per restart; a process
 * whose liveness fails is stopped and started again; stopping the supervisor stops its process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../testkit/supervisor';
import { eventually, waitUntil } from '../../testkit/wait';

const SUPERVISE = path.resolve(__dirname, '../../scripts/lib/supervise.sh');

function supervise(args: string[], env: Record<string, string>) {
  const child = spawn('bash', [SUPERVISE, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    out.push(...parts);
  });
  return { child, out };
}

async function stopSupervisor(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

/** Running, and not a zombie waiting to be reaped (kill(pid, 0) succeeds for those too). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

describe('the npm start supervisor', () => {
  it('starts a process that exits again, with a doubling delay, and prints each restart', async () => {
    const { child, out } = supervise(['demo', '-', '--', 'bash', '-c', 'echo "run $$"; exit 3'], {
      SUPERVISE_BACKOFF_INITIAL_MS: '100',
      SUPERVISE_BACKOFF_MAX_MS: '400',
    });
    try {
      await eventually(async () => (out.filter((l) => l.startsWith('run ')).length >= 4 ? true : undefined), 30_000, 'four runs');
      const restarts = out.filter((l) => l.startsWith('[supervise] demo exited (code 3)'));
      expect(restarts.length).toBeGreaterThanOrEqual(3);
      expect(restarts.slice(0, 4).map((l) => / in ([\d.]+) s$/.exec(l)?.[1])).toEqual(['0.100', '0.200', '0.400', '0.400'].slice(0, Math.min(4, restarts.length)));
      expect(restarts[1]).toContain('restart #2');
      // Each run is a new process.
      expect(new Set(out.filter((l) => l.startsWith('run '))).size).toBe(out.filter((l) => l.startsWith('run ')).length);
    } finally {
      expect(await stopSupervisor(child)).toBe(0);
    }
  });

  it('stops and restarts a process whose liveness fails, and stops it when the supervisor is stopped', async () => {
    const port = await freePort();
    // Live for its first two checks, then 503: what a process with a consumer that cannot rejoin answers.
    const server = `
      let n = 0;
      require('node:http').createServer((req, res) => { n += 1; res.writeHead(n <= 2 ? 200 : 503); res.end(); })
        .listen(${port}, '127.0.0.1', () => console.log('listening ' + process.pid));
      process.on('SIGTERM', () => { console.log('got SIGTERM ' + process.pid); process.exit(0); });`;
    const { child, out } = supervise(['live-demo', `http://127.0.0.1:${port}/health/live`, '--', process.execPath, '-e', server], {
      SUPERVISE_BACKOFF_INITIAL_MS: '100',
      SUPERVISE_LIVE_INTERVAL_MS: '150',
      SUPERVISE_LIVE_FAILURES: '2',
    });
    let lastPid = 0;
    try {
      await eventually(async () => (out.filter((l) => l.startsWith('listening ')).length >= 2 ? true : undefined), 30_000, 'a restart after failed liveness');
      const stopped = out.find((l) => l.startsWith('[supervise] live-demo liveness failed 2 times in a row'));
      expect(stopped).toBeDefined();
      const first = Number(out.find((l) => l.startsWith('listening '))!.split(' ')[1]);
      expect(out).toContain(`got SIGTERM ${first}`);
      lastPid = Number(out.filter((l) => l.startsWith('listening ')).at(-1)!.split(' ')[1]);
    } finally {
      expect(await stopSupervisor(child)).toBe(0);
    }
    // Gone once the supervisor has exited (an orphaned zombie is reaped by init a moment later).
    expect(await waitUntil(async () => !alive(lastPid), 5_000, 50)).toBe(true);
  });
});
