// Imported first by api/main.ts: instrumentations patch modules as they load (common/tracing.ts).
// Only when this process runs that entry: a test importing it in-process starts no tracing.
import { startTracing } from '../common/tracing';

if (require.main && /api[\\/]main\.[jt]s$/.test(require.main.filename)) startTracing('cfd-auth-api', process.env, { entry: true });
