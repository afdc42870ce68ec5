import path from 'node:path';
import { devServerFlags } from './index';

// Printed one per line for scripts/stack.sh, so the shell and the code share one list of flags.
const root = path.resolve(__dirname, '..');
const flags = devServerFlags({
  dbFile: path.join(root, '.data', 'temporal', 'temporal.db'),
  port: Number(process.env.TEMPORAL_PORT ?? 7233),
  uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
  namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
});
process.stdout.write(flags.join('\n') + '\n');
