import { bundleWorkflowCode } from '@temporalio/worker';
import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * The workflow bundle's code, made by a short-lived child process and read from its stdout.
 * Webpack's modules and its working memory (some 170 MB of heap) then leave with that child instead
 * of staying in the worker's heap for as long as it runs. The child runs on the same Node with the
 * same loaders (`--import tsx` under tsx, none for dist/), and bundles workflows/index with the given
 * workflow interceptor modules.
 */
export async function bundleInChild(interceptorModules: string[], timeoutMs = 120_000): Promise<string> {
  const loaders = loaderArgs(process.execArgv);
  // TypeScript source run without a loader of its own (jest compiles in-process): tsx, from the repo root.
  if (loaders.length === 0 && __filename.endsWith('.ts')) loaders.push('--import', 'tsx');
  const child = spawn(process.execPath, [...loaders, __filename, ...interceptorModules], {
    cwd: path.join(__dirname, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close': the exit code, once stdout has been read to its end.
    child.once('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code !== 0) {
    const how = code === null ? `killed after ${timeoutMs} ms` : `exit ${code}`;
    throw new Error(`bundling the workflows failed (${how}): ${stderr.trim() || 'no output'}`);
  }
  return Buffer.concat(out).toString('utf8');
}

/**
 * The module loaders among the parent's Node options (tsx registers itself with --import or
 * --require); the rest (--cpu-prof, --inspect, heap flags) stay with the worker alone.
 */
export function loaderArgs(execArgv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i];
    if (/^--(import|require|loader|experimental-loader)=/.test(a)) out.push(a);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(a) && i + 1 < execArgv.length) out.push(a, execArgv[++i]);
  }
  return out;
}

async function main(modules: string[]): Promise<void> {
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./index'),
    workflowInterceptorModules: modules,
    logger: { trace: quiet, debug: quiet, info: quiet, log: quiet, warn: (m: string) => console.error(m), error: (m: string) => console.error(m) },
  });
  // The bundle is the whole of stdout: exit once it is written to the pipe.
  await new Promise<void>((resolve, reject) => process.stdout.write(code, (err) => (err ? reject(err) : resolve())));
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err.stack ?? err.message);
      process.exit(1);
    },
  );
}
