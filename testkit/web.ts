import path from 'node:path';
import { freePort, REPO_ROOT, runToEnd, SupervisedProcess } from './supervisor';

const WEB_DIR = path.join(REPO_ROOT, 'web');

export interface RunningWeb {
  url: string;
  process: SupervisedProcess;
}

/**
 * The built web app under `next start` on a free port of 127.0.0.1, for the browser tests. Installs
 * web/node_modules and builds web/.next first when missing or stale (scripts/lib/ensure-web.sh, a
 * no-op otherwise). No NEXT_PUBLIC_API_URL: the tests point the page at their own API.
 */
export async function startBuiltWeb(logName = 'web'): Promise<RunningWeb> {
  const ensured = await runToEnd('bash', [path.join(REPO_ROOT, 'scripts', 'lib', 'ensure-web.sh')], process.env, 300_000);
  if (ensured.code !== 0) throw new Error(`ensure-web failed:\n${ensured.out.slice(-4000)}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' };
  delete env.NEXT_PUBLIC_API_URL;
  const nextBin = path.join(WEB_DIR, 'node_modules', 'next', 'dist', 'bin', 'next');
  const logFile = path.join(REPO_ROOT, '.data', 'test', `${logName}.${port}.log`);
  const web = new SupervisedProcess('next start', process.execPath, [nextBin, 'start', WEB_DIR, '-H', '127.0.0.1', '-p', String(port)], env, logFile, `${url}/signin`);
  web.start();
  await web.waitReady(30_000);
  return { url, process: web };
}
