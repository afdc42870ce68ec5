import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { uniqueEmail } from '../../testkit/env';
import { eventually } from '../../testkit/wait';
import { ApiClient } from '../../testkit/http';
import { useSystem, type System } from '../../testkit/system';
import { SignupStatusKey, SignupStatusSinceKey } from '../../temporal-config';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

describe('operations: health endpoints and the signup CLI', () => {
  let sys: System;
  useSystem({}, (started) => (sys = started));

  it('each process reports live and ready, naming its dependencies', async () => {
    const api = await fetch(`${sys.api.url}/health/ready`);
    expect(api.status).toBe(200);
    expect(await api.json()).toEqual({ status: 'ready', dependencies: { redis: 'up', kafka: 'up', temporal: 'up' } });
    const worker = await fetch(`http://127.0.0.1:${sys.worker!.healthPort}/health/ready`);
    expect(((await worker.json()) as any).dependencies).toEqual({ temporal: 'up', redis: 'up', kafka: 'up', smtp: 'up' });
    const db = await fetch(`http://127.0.0.1:${sys.dbProcessor!.healthPort}/health/ready`);
    expect(db.status).toBe(200);
    expect((await fetch(`${sys.api.url}/health/live`)).status).toBe(200);
  });

  it('a stopped DB processor makes readiness fail for that process only', async () => {
    const port = sys.dbProcessor!.healthPort;
    await sys.stopDbProcessor();
    await expect(fetch(`http://127.0.0.1:${port}/health/ready`)).rejects.toThrow();
    await sys.startDbProcessor();
    expect((await fetch(`http://127.0.0.1:${sys.dbProcessor!.healthPort}/health/ready`)).status).toBe(200);
  });

  it('`npm run signup -- find <email>` prints the workflow id, its status and the Temporal UI link', async () => {
    const email = uniqueEmail('cli');
    await new ApiClient(sys.apiUrl).post('/signup', { email });
    const id = signupWorkflowId(deriveKeys(sys.config), email);
    const out = await eventually(async () => {
      const { stdout } = await run('npx', ['tsx', 'scripts/signup-cli.ts', 'find', email.toUpperCase()], { cwd: ROOT, timeout: 60_000 });
      return /SignupStatus:\s+awaiting_code/.test(stdout) ? stdout : undefined;
    }, 60_000, 'awaiting_code in the CLI');
    expect(out).toContain(`workflow id:   ${id}`);
    expect(out).toMatch(/execution:\s+RUNNING/);
    expect(out).toContain(`${sys.config.TEMPORAL_UI_URL}/namespaces/${sys.config.TEMPORAL_NAMESPACE}/workflows/${id}/`);
    expect(out).not.toContain(email);
  });

  it('`npm run signup -- stuck` lists signups long in one state, and ignores task queues without workers', async () => {
    const email = uniqueEmail('stuck');
    await sys.stopDbProcessor();
    try {
      await new ApiClient(sys.apiUrl).post('/signup', { email });
      const id = signupWorkflowId(deriveKeys(sys.config), email);
      // A signup nobody will ever run: started on a task queue without a worker.
      const orphan = `signup-orphan-${Date.now()}`;
      await sys.temporal.workflow.start('signupWorkflow', {
        taskQueue: `nobody-${Date.now()}`,
        workflowId: orphan,
        args: [{ emailSealed: 'v1.x.y.z', limits: {} as never }],
        typedSearchAttributes: [
          { key: SignupStatusKey, value: 'checking' },
          { key: SignupStatusSinceKey, value: new Date(Date.now() - 3_600_000) },
        ],
      });
      try {
        const out = await eventually(async () => {
          const { stdout } = await run('npx', ['tsx', 'scripts/signup-cli.ts', 'stuck', '0'], { cwd: ROOT, timeout: 60_000, env: { ...process.env, NODE_ENV: 'development' } });
          return stdout.includes(id) ? stdout : undefined;
        }, 60_000, 'the stuck signup in the CLI');
        expect(out).toMatch(new RegExp(`${id}\\s+checking\\s+since `));
        expect(out).not.toContain(orphan);
        expect(out).toMatch(/more on task queues without workers, ignored/);
        expect(out).not.toContain(email);
      } finally {
        await sys.temporal.workflow.getHandle(orphan).terminate();
      }
    } finally {
      await sys.startDbProcessor();
    }
  });
});
