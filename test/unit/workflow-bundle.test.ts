import { bundleInChild, loaderArgs } from '../../workflows/bundle';

/** The workflow bundle is made by a child process (workflows/bundle.ts), not in the worker's heap. */
describe('bundleInChild', () => {
  it('returns a bundle of every workflow with the interceptor modules asked for, whole', async () => {
    const interceptors = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
    const code = await bundleInChild([interceptors]);
    for (const wf of ['signupWorkflow', 'passwordResetWorkflow', 'accountClosureWorkflow']) expect(code).toContain(wf);
    expect(code).toContain('interceptors-opentelemetry/lib/workflow-interceptors');
    // All of it came through the pipe: the bundle ends with its source map comment.
    expect(code.length).toBeGreaterThan(1_000_000);
    expect(code.trimEnd()).toMatch(/sourceMappingURL=data:application\/json;[^\s]+$/);
  });

  it('fails with the bundler\'s message when a module cannot be bundled', async () => {
    await expect(bundleInChild(['/nonexistent/interceptors.js'])).rejects.toThrow(/bundling the workflows failed \(exit 1\): .*nonexistent/s);
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
