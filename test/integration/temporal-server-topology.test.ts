import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';
import { uniqueEmail } from '../../testkit/env';
import { eventually } from '../../testkit/wait';
import { allServerPorts } from '../../temporal-config/server';
import { secondServerTopologyEnv } from '../../temporal-config/server';

/**
 * TEMPORAL_TOPOLOGY=server (README "Temporal topologies"): scripts/stack.sh builds the Temporal
 * server and UI server from source (once, cached), provisions their schemas on the project's
 * PostgreSQL and runs them; the whole product works on it. A second Temporal, 50 ports above this
 * checkout's, with its own data dir and databases, so the stack the other tests use is untouched.
 */
const ROOT = path.resolve(__dirname, '../..');
const SHARDS = 4;
const appDb = new URL(process.env.DATABASE_URL || 'postgres://cfd_auth:cfd_auth@127.0.0.1:5432/cfd_auth');
appDb.pathname = `${appDb.pathname.replace(/^\//, '') || 'cfd_auth'}_topology_test`;

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cfd-temporal-server-'));
const stackEnv = secondServerTopologyEnv({ shards: SHARDS, databaseUrl: appDb.toString(), dataDir });
const PORT = Number(stackEnv.TEMPORAL_PORT);
const UI_PORT = Number(stackEnv.TEMPORAL_UI_PORT);
const METRICS_PORT = Number(stackEnv.TEMPORAL_METRICS_PORT);
const stack = (verb: string) => spawnSync('bash', [path.join(ROOT, 'scripts/stack.sh'), verb], { env: stackEnv, encoding: 'utf8', timeout: 30 * 60_000 });

describe('the production-topology Temporal (TEMPORAL_TOPOLOGY=server)', () => {
  let sys: System;
  let up: ReturnType<typeof stack>;

  beforeAll(async () => {
    // A fresh machine builds the server, its schema tool and the UI server here (minutes, once).
    up = stack('temporal-up');
    if (up.status !== 0) throw new Error(`stack.sh temporal-up failed (${up.status}):\n${up.stdout}\n${up.stderr}`);
    sys = await startSystem({ env: { TEMPORAL_ADDRESS: `127.0.0.1:${PORT}` } });
  }, 30 * 60_000);

  afterAll(async () => {
    await sys?.close();
    const down = stack('temporal-down');
    rmSync(dataDir, { recursive: true, force: true });
    if (down.status !== 0) throw new Error(`stack.sh temporal-down failed:\n${down.stdout}\n${down.stderr}`);
  }, 120_000);

  it('is the Temporal server on postgres12 with the configured number of history shards', async () => {
    const connection = await Connection.connect({ address: `127.0.0.1:${PORT}` });
    try {
      const info = await connection.workflowService.getClusterInfo({});
      expect(info.serverVersion).toBe('1.29.1');
      expect(info.historyShardCount).toBe(SHARDS);
      const sys = await connection.workflowService.getSystemInfo({});
      expect(sys.serverVersion).toBe('1.29.1');
      const describe = execFileSync(path.join(process.env.CFD_CACHE || path.join(os.homedir(), '.cache/cfd-auth'), 'bin/temporal'),
        ['operator', 'cluster', 'describe', '--address', `127.0.0.1:${PORT}`, '-o', 'json'], { encoding: 'utf8' });
      expect(JSON.parse(describe)).toMatchObject({ persistenceStore: 'postgres12', visibilityStore: 'postgres12', historyShardCount: SHARDS });
    } finally {
      await connection.close();
    }
  });

  it('runs a signup end to end, visible by its search attributes', async () => {
    const client = new ApiClient(sys.apiUrl);
    const email = uniqueEmail('topology');
    expect((await client.post('/signup', { email })).status).toBe(202);
    const otp = await waitForCode(email);
    const verify = await client.post('/verify', { email, otp, password: 'a sturdy test passphrase', name: 'Topology Test' });
    expect(verify.status).toBe(201);
    expect((await client.get('/me')).status).toBe(200);
    // Custom search attributes are registered on this server: the visibility store answers by them.
    const workflowId = signupWorkflowId(deriveKeys(sys.config), email);
    await eventually(async () => {
      const found: string[] = [];
      for await (const wf of sys.temporal.workflow.list({ query: `WorkflowId = "${workflowId}" AND SignupStatus = "completed"` })) found.push(wf.workflowId);
      return found.length === 1 && found[0] === workflowId ? found : undefined;
    }, 30_000, 'the verified signup in the visibility store');
  });

  it('serves its UI and metrics, and binds every port to loopback only', async () => {
    const ui = await fetch(`http://127.0.0.1:${UI_PORT}/`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('<html');
    const metrics = await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^# (HELP|TYPE) /m);
    const listeners = execFileSync('ss', ['-Hltn'], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/)[3]).filter(Boolean);
    const ours = new Set([...allServerPorts(PORT), UI_PORT, METRICS_PORT].map(String));
    const bound = listeners.filter((addr) => ours.has(addr.slice(addr.lastIndexOf(':') + 1)));
    expect(bound.length).toBeGreaterThanOrEqual(6);
    expect(bound.filter((addr) => !addr.startsWith('127.0.0.1:'))).toEqual([]);
  });
});
