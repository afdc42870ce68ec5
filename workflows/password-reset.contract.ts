import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AccountFlowStatus } from '../temporal-config/account-flows';

/** Every time limit and budget of a password reset; they arrive in its input so tests can shorten them. */
export interface PasswordResetLimits {
  codeTtlMs: number;
  /** How long a reset waits for its code before it ends "expired". */
  windowMs: number;
  resendCooldownMs: number;
  resendMaxPerHour: number;
  /** Wrong codes accepted per code and per source. */
  maxAttempts: number;
  /** Total time the mail of one reset may take (every code and the notice). */
  emailBudgetMs: number;
  /** Total SMTP attempts of one reset. */
  emailMaxAttempts: number;
}

export interface PasswordResetInput {
  /** The address sealed with the reset's workflow id as context. */
  emailSealed: string;
  limits: PasswordResetLimits;
}

export type PasswordResetOutcome = {
  status: Extract<AccountFlowStatus, 'completed' | 'expired' | 'failed' | 'mail_failed'>;
  reason?: string;
};

export interface ResetPasswordInput {
  /** HMAC of the submitted code bound to this reset: the code itself never enters history. */
  codeDigest: string;
  /** The new password's bcrypt hash, sealed for this reset (SealContext.newPasswordHashForFlow). */
  passwordSealed: string;
  /** Keyed hash of where the attempt came from: attempts count per source. */
  source?: string;
}

export type ResetPasswordResult =
  | { ok: true; userId: string }
  | { ok: false; code: 'INVALID_CODE'; attemptsLeft: number }
  | { ok: false; code: 'TOO_MANY_ATTEMPTS' | 'CODE_EXPIRED' | 'PASSWORD_ALREADY_RESET' | 'UNAVAILABLE' };

export interface PasswordResetState {
  status: AccountFlowStatus;
  codesIssued: number;
}

/** Sent by every POST /password/forgot: asks for a (new) code, subject to cooldown and hourly cap. */
export const requestResetCodeSignal = defineSignal('requestCode');
export const resetPasswordUpdate = defineUpdate<ResetPasswordResult, [ResetPasswordInput]>('resetPassword');
export const resetStateQuery = defineQuery<PasswordResetState>('state');
