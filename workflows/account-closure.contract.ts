import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AccountFlowStatus } from '../temporal-config/account-flows';

export interface AccountClosureLimits {
  /** How long the account waits, closed but restorable, before its personal data is erased (7 days). */
  graceMs: number;
  /** Wrong restore tokens accepted before the link stops working. */
  maxAttempts: number;
  emailBudgetMs: number;
  emailMaxAttempts: number;
}

/**
 * A closure the API has authorised (password checked): the account is closed at once, every session
 * revoked, and a restore link mailed; at the end of the grace period the user row is erased.
 * `emailSealed`: the address the notice goes to, SealContext.email(workflowId).
 */
export interface AccountClosureInput {
  userId: string;
  emailSealed: string;
  limits: AccountClosureLimits;
}

/**
 * The flow's AccountFlowStatus reuses the account flows' words (a new word would be a release of
 * every account flow): `applying` while closing or erasing, `notifying` while the restore link is
 * mailed, `undo_window` during the grace period, `undone` once restored, `completed` once erased.
 */
export type AccountClosureOutcome = { status: 'restored' | 'erased' | 'failed'; reason?: string };

export type RestoreAccountResult = { ok: true } | { ok: false; code: 'INVALID_TOKEN' | 'UNAVAILABLE' };

export const restoreAccountUpdate = defineUpdate<RestoreAccountResult, [{ tokenDigest: string }]>('restoreAccount');
export const accountClosureStateQuery = defineQuery<{ status: AccountFlowStatus; closesAt: number }>('state');
