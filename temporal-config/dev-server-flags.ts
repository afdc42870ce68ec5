import path from 'node:path';
import { devServerFlags } from './dev-server';

// Printed one per line for scripts/stack.sh, so the shell and the code share one list of flags.
// scripts/stack.sh passes TEMPORAL_DB_FILE: a path derived from this file's location would point
// another checkout (or a symlinked copy) at this checkout's database.
const flags = devServerFlags({
  dbFile: process.env.TEMPORAL_DB_FILE ?? path.resolve(__dirname, '..', '.data', 'temporal', 'temporal.db'),
  port: Number(process.env.TEMPORAL_PORT ?? 7233),
  uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
  namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
  codecEndpoint: `http://127.0.0.1:${process.env.CODEC_SERVER_PORT || 8234}`,
  metricsPort: Number(process.env.TEMPORAL_METRICS_PORT || 9466),
});
process.stdout.write(flags.join('\n') + '\n');
