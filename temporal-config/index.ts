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
  /**
   * Release v4: the registered-email check, the code issue and the account creation try one local
   * attempt before the regular activity. v3 code otherwise; v3 histories read the patch as absent.
   */
  signupV4: 'signup-v4-local-first',
} as const;
