/**
 * `npm run chaos -- --shared` refuses to stop or restart the services of a stack on which app
 * processes run (an `npm start`), before it touches anything.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startHealthServer } from '../../common/health';

const ROOT = path.resolve(__dirname, '../..');

it('refuses the Kafka scenarios on a shared stack while an app process answers on it', async () => {
  const api = await startHealthServer('127.0.0.1', 0, {});
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/run.ts', '--shared', '--only', 'kafka-restart', '--quick'], {
      cwd: ROOT,
      env: { ...process.env, API_PORT: String(api.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      // Should the guard ever let it through, stop it before any fault is injected.
      if (err.includes('bringing the stack up')) child.kill('SIGKILL');
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(err).toContain('REFUSING to run kafka-restart on the shared stack');
    expect(err).not.toContain('bringing the stack up');
    expect(code).toBe(2);
  } finally {
    await api.close();
  }
}, 60_000);
