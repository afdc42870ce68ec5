import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { bundleInChild, loaderArgs } from '../../workflows/bundle';

/** The workflow bundle is made by a child process (workflows/bundle.ts), not in the worker's heap. */
describe('bundleInChild', () => {
  const leftovers = () => readdirSync(os.tmpdir()).filter((f) => f.startsWith(`cfd-auth-workflows-${process.pid}-`));

  it('writes a bundle of every workflow with the interceptor modules asked for, and removes it', async () => {
    const interceptors = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
    const made = await bundleInChild([interceptors]);
    const code = readFileSync(made.codePath, 'utf8');
    for (const wf of ['signupWorkflow', 'passwordResetWorkflow', 'accountClosureWorkflow']) expect(code).toContain(wf);
    expect(code).toContain('interceptors-opentelemetry/lib/workflow-interceptors');
    await made.remove();
    expect(existsSync(made.codePath)).toBe(false);
  });

  it('fails with the bundler\'s message when a module cannot be bundled, and leaves no file', async () => {
    await expect(bundleInChild(['/nonexistent/interceptors.js'])).rejects.toThrow(/bundling the workflows failed \(exit 1\): .*nonexistent/s);
    expect(leftovers()).toEqual([]);
  });
});

describe('loaderArgs', () => {
  it('keeps the module loaders of the parent and drops its other Node options', () => {
    expect(loaderArgs(['--cpu-prof', '--import', 'tsx', '--inspect=127.0.0.1:9229', '--max-old-space-size=256', '-r', '/x/preflight.cjs', '--require=/y.cjs', '--import=file:///l.mjs', '--heapsnapshot-signal=SIGUSR2'])).toEqual([
      '--import', 'tsx', '-r', '/x/preflight.cjs', '--require=/y.cjs', '--import=file:///l.mjs',
    ]);
    expect(loaderArgs([])).toEqual([]);
  });
});
