import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Temporal constants of the account flows after signup (password reset, password change). Kept
 * apart from index.ts so that a new flow is not a change of the signup workflow's release (see
 * scripts/lib/workflow-release.ts: each workflow type is released on its own). Constants only:
 * safe to import from workflow code.
 */
export const PASSWORD_RESET_WORKFLOW_ID_PREFIX = 'password-reset-';
export const PASSWORD_CHANGE_WORKFLOW_ID_PREFIX = 'password-change-';
export const EMAIL_CHANGE_WORKFLOW_ID_PREFIX = 'email-change-';
export const EMAIL_UNDO_WORKFLOW_ID_PREFIX = 'email-undo-';

export const ACCOUNT_FLOW_STATUSES = [
  'checking',
  'no_account',
  'sending_code',
  'awaiting_code',
  'applying',
  'notifying',
  'undo_window',
  'undone',
  'completed',
  'expired',
  'failed',
  'mail_failed',
] as const;
export type AccountFlowStatus = (typeof ACCOUNT_FLOW_STATUSES)[number];

/** One keyword for every account flow; the workflow type tells the flows apart in a query. */
export const AccountFlowStatusKey = defineSearchAttributeKey('AccountFlowStatus', SearchAttributeType.KEYWORD);
/** When the flow entered its current AccountFlowStatus ("stuck" means long in one state). */
export const AccountFlowStatusSinceKey = defineSearchAttributeKey('AccountFlowStatusSince', SearchAttributeType.DATETIME);

export const ACCOUNT_SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' | 'Datetime' }> = [
  { name: AccountFlowStatusKey.name, type: 'Keyword' },
  { name: AccountFlowStatusSinceKey.name, type: 'Datetime' },
];
