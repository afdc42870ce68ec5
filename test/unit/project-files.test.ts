import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_KEYS } from '../../common/config';
import { WORKER_NODE_FLAGS } from '../../workflows/node-flags';

const ROOT = path.resolve(__dirname, '../..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');

function envExampleKeys(): Set<string> {
  return new Set(
    read('.env.example')
      .split('\n')
      .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
      .filter((k): k is string => Boolean(k)),
  );
}

describe('.env.example', () => {
  it('lists every variable the config module reads', () => {
    const documented = envExampleKeys();
    expect(CONFIG_KEYS.filter((k) => !documented.has(k))).toEqual([]);
  });
});

describe('docker-compose.yml (validated statically: no Docker engine here)', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, any> };
  const services = compose.services;

  it('has the whole stack and the three app processes', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgres', 'redis', 'kafka', 'temporal', 'maildev', 'api', 'worker', 'db-processor']),
    );
    expect(services.kafka.image).toMatch(/^apache\/kafka:3\.9\./);
  });

  it('publishes ports on 127.0.0.1 only', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const p of (svc.ports ?? []) as string[]) expect({ name, port: p }).toEqual({ name, port: expect.stringMatching(/^127\.0\.0\.1:/) });
    }
  });

  it('every service has a healthcheck, and the app waits for healthy dependencies', () => {
    // One-shot jobs (waited on with service_completed_successfully) are the only exemption, and
    // exactly these three are one-shot: a long-running service cannot slip into the list.
    const oneShot = new Set<string>();
    for (const svc of Object.values(services)) {
      for (const [dep, d] of Object.entries((svc.depends_on ?? {}) as Record<string, { condition: string }>)) {
        if (d.condition === 'service_completed_successfully') oneShot.add(dep);
      }
    }
    expect([...oneShot].sort()).toEqual(['migrate', 'migrate-prod', 'temporal-data-init']);
    for (const [name, svc] of Object.entries(services)) {
      if (oneShot.has(name)) continue;
      expect({ name, healthcheck: Boolean(svc.healthcheck) }).toEqual({ name, healthcheck: true });
    }
    for (const [suffix, postgres] of [['', 'postgres'], ['-prod', 'postgres-prod']]) {
      for (const app of ['api', 'worker', 'db-processor'].map((a) => a + suffix)) {
        const deps = services[app].depends_on as Record<string, { condition: string }>;
        for (const dep of [postgres, 'redis', 'kafka', 'temporal']) expect({ app, dep, condition: deps[dep]?.condition }).toEqual({ app, dep, condition: 'service_healthy' });
      }
    }
  });

  it('wires the app with the same variable names the config module reads', () => {
    for (const app of ['api', 'worker', 'db-processor', 'api-prod', 'worker-prod', 'db-processor-prod']) {
      const env = Object.keys(services[app].environment ?? {});
      expect(env.length).toBeGreaterThan(0);
      expect(env.filter((k) => !CONFIG_KEYS.includes(k))).toEqual([]);
    }
  });

  it('builds the app from the Dockerfile in the repository', () => {
    expect(existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
    expect(services.api.build?.dockerfile ?? services.api.build).toBeTruthy();
  });
});

describe("the worker's Node flags (workflows/node-flags.ts) in every launcher", () => {
  const services = (parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { command?: string[] }> }).services;

  it('docker-compose runs worker and worker-prod with them, before the script', () => {
    for (const app of ['worker', 'worker-prod']) expect({ app, command: services[app].command }).toEqual({ app, command: ['node', ...WORKER_NODE_FLAGS, 'dist/workflows/worker.js'] });
  });

  it('npm start and npm run worker pass them to tsx, before the script', () => {
    const flags = WORKER_NODE_FLAGS.join(' ');
    expect(read('scripts/start.sh')).toContain(`npx tsx ${flags} workflows/worker.ts`);
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.worker).toBe(`bash scripts/run.sh tsx ${flags} workflows/worker.ts`);
  });

  it('are flags this Node accepts (an unknown V8 flag would stop the worker at start)', () => {
    const run = spawnSync(process.execPath, [...WORKER_NODE_FLAGS, '-e', ''], { encoding: 'utf8' });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('the bench starts every worker of ours with them', () => {
    for (const f of ['bench/infra.ts', 'bench/lib/twin.ts']) {
      const starts = read(f).split('\n').filter((l) => l.includes("'workflows/worker.ts'"));
      expect(starts.length).toBeGreaterThan(0);
      for (const line of starts) expect({ f, line: line.trim(), flags: line.includes('WORKER_NODE_FLAGS') }).toEqual({ f, line: line.trim(), flags: true });
    }
  });
});
