/**
 * `npm run stack:status` (scripts/stack.sh status) tells the truth about the application
 * processes, not only the infrastructure: a process that answers not ready (and which dependency
 * is down), one that hangs, one that is not running; it exits 3 when anything counted is not ready,
 * 0 once it is, and answers within its 10 s bound even when a process hangs.
 * The app processes here are the project's real health server (common/health.ts) with checks the
 * test controls; the infrastructure is the running stack.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { startHealthServer } from '../../common/health';
import { freePort } from '../../testkit/supervisor';

const STACK = path.resolve(__dirname, '../../scripts/stack.sh');

function status(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    // The bound the operator is promised: an answer within 10 s, whatever hangs.
    execFile('bash', [STACK, 'status'], { env: { ...process.env, ...env }, timeout: 10_000 }, (err, stdout) => {
      if (err && (err as { killed?: boolean }).killed) return reject(new Error(`stack.sh status gave no answer within 10 s:\n${stdout}`));
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, out: stdout });
    });
  });
}

const row = (out: string, name: string) => out.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';

describe('stack:status', () => {
  let kafkaUp = false;
  const api = startHealthServer('127.0.0.1', 0, { redis: async () => undefined });
  const worker = startHealthServer('127.0.0.1', 0, {
    redis: async () => undefined,
    kafka: async () => {
      if (!kafkaUp) throw new Error('not in the consumer group');
    },
  });
  let hung: Server;
  let hungPort = 0;
  let env: Record<string, string>;

  beforeAll(async () => {
    hung = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    hungPort = (hung.address() as { port: number }).port;
    env = {
      API_PORT: String((await api).port),
      WORKER_HEALTH_PORT: String((await worker).port),
      DB_PROCESSOR_HEALTH_PORT: String(await freePort()),
      WEB_PORT: String(await freePort()),
      STACK_STATUS_EXPECT_APPS: '0',
    };
  });
  afterAll(async () => {
    await (await api).close();
    await (await worker).close();
    hung.close();
  });

  it('exits 3 and names the dependency when a running process is not ready', async () => {
    const { code, out } = await status(env);
    expect(code).toBe(3);
    expect(row(out, 'worker')).toMatch(/not-ready +down: kafka$/);
    expect(row(out, 'api')).toMatch(/ ready/);
    expect(row(out, 'db-processor')).toMatch(/not-running .*not counted/);
    for (const svc of ['postgres', 'redis', 'kafka', 'temporal', 'smtp']) expect(row(out, svc)).toMatch(/ up /);
  });

  it('exits 0 once that process is ready again, while a process that is not expected may be absent', async () => {
    kafkaUp = true;
    try {
      const { code, out } = await status(env);
      expect(row(out, 'worker')).toMatch(/ ready/);
      expect(code).toBe(0);
    } finally {
      kafkaUp = false;
    }
  });

  it('counts a process that is not running when the app processes are expected (npm start running)', async () => {
    kafkaUp = true;
    try {
      const { code, out } = await status({ ...env, STACK_STATUS_EXPECT_APPS: '1' });
      expect(row(out, 'db-processor')).toMatch(/not-running/);
      expect(code).toBe(3);
    } finally {
      kafkaUp = false;
    }
  });

  it('answers within its bound and counts a process that hangs as not ready', async () => {
    const { code, out } = await status({ ...env, DB_PROCESSOR_HEALTH_PORT: String(hungPort), WORKER_HEALTH_PORT: env.API_PORT });
    expect(row(out, 'db-processor')).toMatch(/not-ready +\/health\/ready gave no answer/);
    expect(code).toBe(3);
  });
});
