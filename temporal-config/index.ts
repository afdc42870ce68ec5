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
  'mail_failed',
] as const;
export type SignupStatus = (typeof SIGNUP_STATUSES)[number];

export const SignupStatusKey = defineSearchAttributeKey('SignupStatus', SearchAttributeType.KEYWORD);
/** When the signup entered its current SignupStatus: "stuck" means long in one state, not old. */
export const SignupStatusSinceKey = defineSearchAttributeKey('SignupStatusSince', SearchAttributeType.DATETIME);

/** Every custom search attribute, as `temporal server start-dev --search-attribute` wants them. */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' | 'Datetime' }> = [
  { name: SignupStatusKey.name, type: 'Keyword' },
  { name: SignupStatusSinceKey.name, type: 'Datetime' },
];

/**
 * Patch ids of released workflow changes (Temporal patching). A history without a patch's marker
 * was started by an earlier release and runs that release's frozen code.
 */
export const PATCHES = {
  /** Release v3: per-code attempts, one mail budget, cancellable sender, ids-only results. */
  signupV3: 'signup-v3-lifecycle',
} as const;

/** Flags for the local dev server; scripts/stack.sh prints them with `tsx temporal-config/dev-server-flags.ts`. */
export function devServerFlags(opts: { dbFile: string; port: number; uiPort: number; namespace: string }): string[] {
  return [
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--ui-ip', '127.0.0.1',
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
