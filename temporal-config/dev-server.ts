import { ACCOUNT_SEARCH_ATTRIBUTES } from './account-flows';
import { SEARCH_ATTRIBUTES } from './index';

/** Every custom search attribute the workflows set: the signup's and the account flows'. */
export const ALL_SEARCH_ATTRIBUTES = [...SEARCH_ATTRIBUTES, ...ACCOUNT_SEARCH_ATTRIBUTES];

/**
 * Flags for the local dev server; scripts/stack.sh prints them with `tsx temporal-config/dev-server-flags.ts`
 * and docker-compose.yml's command is generated from them. Kept out of index.ts, which workflows
 * import: a change there is a workflow release.
 */
export function devServerFlags(opts: { dbFile: string; port: number; uiPort: number; namespace: string; codecEndpoint?: string; metricsPort?: number }): string[] {
  return [
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--ui-ip', '127.0.0.1',
    '--db-filename', opts.dbFile,
    '--namespace', opts.namespace,
    '--log-level', 'warn',
    ...ALL_SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${a.type}`]),
    // WAL + synchronous=normal: survives a killed server (not an OS crash), and signal-with-start
    // p50 fell from ~6.5 to ~3.5 ms; eager activities skip a matching round trip per activity.
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=normal',
    '--dynamic-config-value', 'system.enableActivityEagerExecution=true',
    // Payloads are encrypted; the UI asks the codec server (npm run codec-server) to show them.
    ...(opts.codecEndpoint ? ['--ui-codec-endpoint', opts.codecEndpoint] : []),
    // The server's own Prometheus metrics (service latencies, task queue backlog, persistence)
    // on --ip; 0 leaves them off.
    ...(opts.metricsPort ? ['--metrics-port', String(opts.metricsPort)] : []),
  ];
}
