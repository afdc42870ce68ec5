import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_KEYS } from '../../common/config';
import { TOPICS } from '../../common/kafka/topics';
import { COMPOSE_FILE, temporalCommand, withGeneratedBlock } from '../../scripts/compose-temporal';
import { ALL_SEARCH_ATTRIBUTES } from '../../temporal-config/dev-server';

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const ROOT = path.resolve(__dirname, '../..');

// Docker Compose 2.40.3 itself (hash-pinned, fetched once by scripts/lib/compose-bin.sh): `config`
// validates the file against Compose's schema and interpolates it without a Docker engine.
const compose = execFileSync('bash', [path.join(ROOT, 'scripts/lib/compose-bin.sh')], { encoding: 'utf8' }).trim();

interface Service {
  image: string;
  user?: string;
  restart?: string;
  read_only?: boolean;
  command?: string[];
  entrypoint?: string[];
  healthcheck?: { test: string[] };
  environment?: Record<string, string>;
  ports?: Array<{ host_ip?: string; published: string; target: number }>;
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}

/** `docker-compose config` of a copy of the compose file, in a directory with the given files. */
function composeConfig(profile: 'dev' | 'prod', withSecrets: boolean) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cfd-compose-'));
  tempDirs.push(dir);
  copyFileSync(COMPOSE_FILE, path.join(dir, 'docker-compose.yml'));
  if (withSecrets) execFileSync('bash', [path.join(ROOT, 'scripts/make-prod-secrets.sh'), path.join(dir, 'secrets')]);
  // A clean environment: only what compose needs, so no variable of the caller fills a gap.
  const res = spawnSync(compose, ['--profile', profile, 'config', '--format', 'json'], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    encoding: 'utf8',
  });
  const config = res.status === 0 ? (JSON.parse(res.stdout) as { services: Record<string, Service> }) : undefined;
  return { status: res.status, stderr: res.stderr, services: config?.services ?? {} };
}

const APP = ['migrate', 'db-processor', 'worker', 'api'];

describe('docker-compose.yml, read by Docker Compose 2.40.3', () => {
  const dev = composeConfig('dev', false);
  const prod = composeConfig('prod', true);

  it('validates for both profiles, each with the whole product', () => {
    expect({ status: dev.status, stderr: dev.stderr }).toEqual({ status: 0, stderr: '' });
    expect({ status: prod.status, stderr: prod.stderr }).toEqual({ status: 0, stderr: '' });
    const infra = ['redis', 'kafka', 'temporal', 'maildev'];
    expect(Object.keys(dev.services).sort()).toEqual([...infra, 'postgres', 'temporal-data-init', ...APP, 'web', 'prometheus', 'jaeger'].sort());
    expect(Object.keys(prod.services).sort()).toEqual(
      [...infra, 'postgres-prod', 'temporal-data-init', ...APP.map((a) => `${a}-prod`), 'web-prod', 'prometheus-prod', 'jaeger'].sort(),
    );
  });

  it('refuses the prod profile without its secret files', () => {
    const res = composeConfig('prod', false);
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/secrets\/(app|postgres)\.env/);
  });

  it('runs the Temporal dev server with the flags and search attributes of temporal-config/', () => {
    expect(withGeneratedBlock(readFileSync(COMPOSE_FILE, 'utf8'))).toBe(readFileSync(COMPOSE_FILE, 'utf8'));
    const expected = temporalCommand().map((a) => a.replace('${TEMPORAL_NAMESPACE:-default}', 'default').replace('${CODEC_SERVER_PORT:-8234}', '8234'));
    for (const { services } of [dev, prod]) {
      expect(services.temporal.command).toEqual(expected);
      for (const a of ALL_SEARCH_ATTRIBUTES) expect(services.temporal.command).toContain(`${a.name}=${a.type}`);
    }
  });

  it('prod: production mode, non-root read-only app containers, restart policies and liveness checks', () => {
    for (const [name, svc] of Object.entries(prod.services)) {
      if (name !== 'temporal-data-init') {
        expect({ name, user: svc.user }).toEqual({ name, user: expect.not.stringMatching(/^(root|0)(:|$)/) });
        expect({ name, restart: svc.restart }).toEqual({ name, restart: expect.stringMatching(/^(unless-stopped|on-failure)/) });
      }
      expect({ name, image: svc.image }).toEqual({ name, image: expect.stringMatching(/:(v?\d+\.\d+(\.\d+)?(-[\w.-]+)?|local)(@sha256:[0-9a-f]{64})?$/) });
      for (const p of svc.ports ?? []) expect({ name, host_ip: p.host_ip }).toEqual({ name, host_ip: '127.0.0.1' });
    }
    for (const app of [...APP.map((a) => `${a}-prod`), 'web-prod']) {
      const svc = prod.services[app];
      expect({ app, NODE_ENV: svc.environment?.NODE_ENV, read_only: svc.read_only, user: svc.user }).toEqual({ app, NODE_ENV: 'production', read_only: true, user: 'node' });
    }
    for (const app of ['api-prod', 'worker-prod', 'db-processor-prod']) {
      const svc = prod.services[app];
      expect(svc.environment?.JWT_SECRET).toMatch(/^.{32,}$/);
      for (const ring of ['TEMPORAL_PAYLOAD_KEYS', 'KAFKA_REQUEST_MAC_KEYS', 'KAFKA_REPLY_MAC_KEYS', 'KAFKA_PAYLOAD_KEYS']) {
        expect({ app, ring, value: svc.environment?.[ring] }).toEqual({ app, ring, value: expect.stringMatching(/^[\w.-]+:.{32,}$/) });
      }
      expect(svc.environment?.DATABASE_URL).toMatch(/^postgres:\/\/cfd_auth:[^@]{20,}@postgres-prod:5432\/cfd_auth$/);
      expect(svc.healthcheck?.test.join(' ')).toMatch(/\/health\/live/);
    }
    // Infrastructure is reachable from the containers only, except the Temporal UI.
    for (const name of ['postgres-prod']) expect(prod.services[name].ports ?? []).toEqual([]);
  });

  it('prod: the processes connect as a database role without superuser rights', () => {
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    expect(text).toMatch(/CREATE ROLE cfd_auth LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE/);
    expect(prod.services['postgres-prod'].environment?.POSTGRES_USER).toBe('postgres');
    expect(prod.services['postgres-prod'].environment?.CFD_APP_DB_PASSWORD).toMatch(/.{20,}/);
  });

  it('wires the app with the config module’s variable names and creates the code’s Kafka topics', () => {
    for (const { services } of [dev, prod]) {
      for (const [name, svc] of Object.entries(services)) {
        if (!svc.image.startsWith('cfd-auth-app:') || name.startsWith('web')) continue;
        expect({ name, unknown: Object.keys(svc.environment ?? {}).filter((k) => !CONFIG_KEYS.includes(k)) }).toEqual({ name, unknown: [] });
      }
    }
    expect(dev.services.migrate.command?.join(' ')).toMatch(/dist\/scripts\/ensure-topics\.js/);
    // No topic is named in the compose file but in the code (the topics come from common/kafka/topics.ts).
    const named = readFileSync(COMPOSE_FILE, 'utf8').match(/auth\.[a-z.]+\.v\d+/g) ?? [];
    expect(named.filter((t) => !Object.values(TOPICS).includes(t as never))).toEqual([]);
    expect(readFileSync(path.join(ROOT, 'scripts/kafka/security.sh'), 'utf8')).toMatch(/^auto\.create\.topics\.enable=false$/m);
    expect(readFileSync(path.join(ROOT, 'scripts/kafka/container-broker.sh'), 'utf8')).toMatch(/kafka_common_properties kafka:9093/);
  });

  it('runs Kafka with SASL/SCRAM and ACLs, and gives each prod container its own Kafka password', () => {
    const broker = readFileSync(path.join(ROOT, 'scripts/kafka/container-broker.sh'), 'utf8');
    expect(dev.services.kafka.entrypoint).toEqual(['bash', '/cfd/kafka/container-broker.sh']);
    expect(broker).toMatch(/^listener\.security\.protocol\.map=CONTROLLER:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT$/m);
    expect(broker).toMatch(/kafka_sasl_properties INTERNAL EXTERNAL/);
    const security = readFileSync(path.join(ROOT, 'scripts/kafka/security.sh'), 'utf8');
    expect(security).toMatch(/^allow\.everyone\.if\.no\.acl\.found=false$/m);
    expect(security).toMatch(/^super\.users=User:cfd-admin$/m);
    const roles: Record<string, string> = { 'api-prod': 'api', 'worker-prod': 'worker', 'db-processor-prod': 'db-processor', 'migrate-prod': 'admin' };
    for (const [name, role] of Object.entries(roles)) {
      expect({ name, password: prod.services[name].environment?.KAFKA_SASL_PASSWORD }).toEqual({ name, password: expect.stringMatching(/^[A-Za-z0-9]{40,}$/) });
      // ... and it is the one the broker created the user cfd-<role> with.
      const brokerVar = `KAFKA_PASSWORD_${role.toUpperCase().replace('-', '_')}`;
      expect(prod.services.kafka.environment?.[brokerVar]).toBe(prod.services[name].environment?.KAFKA_SASL_PASSWORD);
    }
    // Every role's password is different.
    expect(new Set(Object.keys(roles).map((n) => prod.services[n].environment?.KAFKA_SASL_PASSWORD)).size).toBe(4);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);
  const runtime = stages[stages.length - 1];

  it('is multi-stage on Node 24, with production dependencies and compiled JavaScript at runtime', () => {
    expect(text).toMatch(/^ARG NODE_IMAGE=node:24\.\d+\.\d+-bookworm-slim/m);
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/tsc -p tsconfig\.build\.json/);
    expect(text).toMatch(/next build|npm run build/);
    expect(runtime).toMatch(/NODE_ENV=production/);
    expect(runtime).toMatch(/^CMD \["node", "dist\/api\/main\.js"\]/m);
    expect(runtime).not.toMatch(/tsx/);
  });

  it('runs as the non-root node user over files it cannot change', () => {
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/--chown/);
    expect(runtime).not.toMatch(/^RUN /m);
  });
});
