import fs from 'node:fs';
import path from 'node:path';
import { temporalServerConfig, temporalServerDynamicConfig, temporalUiConfig, allServerPorts } from './server';

// scripts/stack.sh (TEMPORAL_TOPOLOGY=server): `tsx temporal-config/server-config.ts <dir>` writes
// <dir>/config/development.yaml, <dir>/config/dynamicconfig.yaml and <dir>/ui/config/development.yaml,
// and prints, one `KEY=value` per line, what the shell needs to provision the schema and check ports.
// The databases live next to the application's: <app database>_temporal and _temporal_visibility,
// on the same server and with the same role (DATABASE_URL), so a second checkout gets its own.
const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: tsx temporal-config/server-config.ts <dir>\n');
  process.exit(2);
}

const url = new URL(process.env.DATABASE_URL || 'postgres://cfd_auth:cfd_auth@127.0.0.1:5432/cfd_auth');
const appDb = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'cfd_auth';
const db = {
  host: url.hostname || '127.0.0.1',
  port: Number(url.port || 5432),
  user: decodeURIComponent(url.username),
  password: decodeURIComponent(url.password),
  database: `${appDb}_temporal`,
  visibilityDatabase: `${appDb}_temporal_visibility`,
};
const port = Number(process.env.TEMPORAL_PORT || 7233);
const shards = Number(process.env.TEMPORAL_HISTORY_SHARDS || 8);
if (!Number.isInteger(shards) || shards < 1 || shards > 16384) {
  process.stderr.write(`TEMPORAL_HISTORY_SHARDS must be an integer from 1 to 16384, not ${process.env.TEMPORAL_HISTORY_SHARDS}\n`);
  process.exit(2);
}

const configDir = path.join(dir, 'config');
const uiDir = path.join(dir, 'ui', 'config');
fs.mkdirSync(configDir, { recursive: true });
fs.mkdirSync(uiDir, { recursive: true });
const dynamicConfigPath = path.resolve(configDir, 'dynamicconfig.yaml');
const write = (file: string, value: unknown) => fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
write(
  path.join(configDir, 'development.yaml'),
  temporalServerConfig({ port, metricsPort: Number(process.env.TEMPORAL_METRICS_PORT || 9466), historyShards: shards, db, dynamicConfigPath }),
);
write(dynamicConfigPath, temporalServerDynamicConfig());
write(
  path.join(uiDir, 'development.yaml'),
  temporalUiConfig({ uiPort: Number(process.env.TEMPORAL_UI_PORT || 8233), temporalPort: port, codecEndpoint: `http://127.0.0.1:${process.env.CODEC_SERVER_PORT || 8234}` }),
);

const out = {
  DB_HOST: db.host,
  DB_PORT: db.port,
  DB_USER: db.user,
  DB_PASSWORD: db.password,
  DB_NAME: db.database,
  DB_VISIBILITY_NAME: db.visibilityDatabase,
  HISTORY_SHARDS: shards,
  PORTS: allServerPorts(port).join(','),
};
process.stdout.write(Object.entries(out).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
