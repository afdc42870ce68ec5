/**
 * EXIT_WHEN_NOT_LIVE: for restart policies that act only on exits (docker compose), a process
 * exits with code 70 once its liveness fails, and not while it is live.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

it('a process keeps running while live and exits with code 70 once its liveness fails', async () => {
  // Live for the first three checks, then a consumer that could not rejoin its group.
  const code = `
    const { exitWhenNotLive } = require('./common/health');
    let n = 0;
    exitWhenNotLive({ kafka: () => (++n > 3 ? 'not back in the consumer group' : undefined) },
      { fatal: (obj) => console.log('fatal after ' + n + ' checks ' + JSON.stringify(obj)) }, 20);
    setInterval(() => undefined, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  expect(exitCode).toBe(70);
  expect(out).toContain('fatal after 4 checks {"failing":{"kafka":"not back in the consumer group"}}');
}, 30_000);
