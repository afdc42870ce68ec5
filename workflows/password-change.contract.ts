import { defineUpdate } from '@temporalio/workflow';
import type { AccountFlowStatus } from '../temporal-config/account-flows';

export interface PasswordChangeInput {
  userId: string;
  /** The account's address sealed with the change's workflow id as context (for the notice). */
  emailSealed: string;
  /** The new password's bcrypt hash, sealed for this change (SealContext.newPasswordHashForFlow). */
  passwordSealed: string;
  /** The session that asked: it stays signed in, every other session of the user is revoked. */
  keepSessionId: string;
  limits: { emailBudgetMs: number; emailMaxAttempts: number };
}

export type PasswordChangeOutcome = { status: Extract<AccountFlowStatus, 'completed' | 'failed' | 'mail_failed'>; reason?: string };

export type PasswordApplied = { ok: true } | { ok: false; code: 'UNAVAILABLE' };

/** Sent with the start (update-with-start): answers once the password is written and other sessions are revoked. */
export const passwordAppliedUpdate = defineUpdate<PasswordApplied, []>('applied');
