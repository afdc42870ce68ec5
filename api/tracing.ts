// Imported first by the entry: instrumentations patch modules as they load (common/tracing.ts).
import { startTracing } from '../common/tracing';

startTracing('cfd-auth-api');
