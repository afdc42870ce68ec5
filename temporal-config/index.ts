import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * What configures Temporal for this project. Safe to import from workflow code: it holds constants
 * only (the connection options live in connection.ts, which workflows never import).
 */
export const TASK_QUEUE = 'auth-signup';

export const SIGNUP_WORKFLOW_ID_PREFIX = 'signup-';

export const SIGNUP_STATUSES = [
  'checking',
  'sending_code',
  'awaiting_code',
  'creating_user',
  'completed',
  'existing_account',
  'locked',
  'expired',
  'failed',
] as const;
export type SignupStatus = (typeof SIGNUP_STATUSES)[number];

export const SignupStatusKey = defineSearchAttributeKey('SignupStatus', SearchAttributeType.KEYWORD);

/** Every custom search attribute, as `temporal server start-dev --search-attribute` wants them. */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' }> = [
  { name: SignupStatusKey.name, type: 'Keyword' },
];

/**
 * Flags for the dev server. scripts/stack.sh prints them with `tsx temporal-config/dev-server-flags.ts`;
 * scripts/compose-temporal.ts writes them into docker-compose.yml (with `ip` 0.0.0.0, the container's
 * interfaces, published on 127.0.0.1 by compose).
 */
export function devServerFlags(opts: { dbFile: string; port: number; uiPort: number; namespace: string; ip?: string }): string[] {
  const ip = opts.ip ?? '127.0.0.1';
  return [
    '--ip', ip,
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--ui-ip', ip,
    '--db-filename', opts.dbFile,
    '--namespace', opts.namespace,
    '--log-level', 'warn',
    ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${a.type}`]),
    // WAL + synchronous=normal: survives a killed server (not an OS crash), and signal-with-start
    // p50 fell from ~6.5 to ~3.5 ms; eager activities skip a matching round trip per activity.
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=normal',
    '--dynamic-config-value', 'system.enableActivityEagerExecution=true',
  ];
}
