import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AccountFlowStatus } from '../temporal-config/account-flows';

export interface EmailChangeLimits {
  codeTtlMs: number;
  /** Wrong codes accepted per code and per source. */
  maxAttempts: number;
  /** How long the old address can undo an applied change. */
  undoWindowMs: number;
  emailBudgetMs: number;
  emailMaxAttempts: number;
}

/**
 * The code phase: a code to the new address, then `verifyEmailChange`. On success it starts the
 * undo window (emailUndoWorkflow, id chosen by the API) and ends. Sealed contexts: the new address
 * SealContext.email(flowId), the old one SealContext.otherEmail(flowId); the undo window's copies
 * are sealed for its own id, the other way round.
 */
export interface EmailChangeInput {
  userId: string;
  newEmailSealed: string;
  oldEmailSealed: string;
  undo: { workflowId: string; oldEmailSealed: string; newEmailSealed: string };
  limits: EmailChangeLimits;
}

export type EmailChangeOutcome = { status: Extract<AccountFlowStatus, 'completed' | 'expired' | 'failed' | 'mail_failed'>; reason?: string };

export interface VerifyEmailChangeInput {
  /** HMAC of the code bound to this flow. */
  codeDigest: string;
  /** The session that asked: it stays (the API renews it), every other one is revoked. */
  keepSessionId: string;
  source?: string;
}

export type VerifyEmailChangeResult =
  | { ok: true }
  | { ok: false; code: 'INVALID_CODE'; attemptsLeft: number }
  | { ok: false; code: 'TOO_MANY_ATTEMPTS' | 'CODE_EXPIRED' | 'EMAIL_TAKEN' | 'UNAVAILABLE' };

export const verifyEmailChangeUpdate = defineUpdate<VerifyEmailChangeResult, [VerifyEmailChangeInput]>('verifyEmailChange');
export const emailChangeStateQuery = defineQuery<{ status: AccountFlowStatus; codesIssued: number }>('state');

/** The undo window: mails the old address a link, and for `undoWindowMs` accepts it once. */
export interface EmailUndoInput {
  userId: string;
  /** The old address, SealContext.email(flowId): the notice goes there and undo restores it. */
  oldEmailSealed: string;
  /** The new address, SealContext.otherEmail(flowId). */
  newEmailSealed: string;
  limits: Pick<EmailChangeLimits, 'undoWindowMs' | 'emailBudgetMs' | 'emailMaxAttempts' | 'maxAttempts'>;
}

export type EmailUndoOutcome = { status: Extract<AccountFlowStatus, 'completed' | 'undone' | 'failed'>; reason?: string };

export type UndoEmailChangeResult = { ok: true } | { ok: false; code: 'INVALID_TOKEN' | 'UNAVAILABLE' };

export const undoEmailChangeUpdate = defineUpdate<UndoEmailChangeResult, [{ tokenDigest: string }]>('undoEmailChange');
