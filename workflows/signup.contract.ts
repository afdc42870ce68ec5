import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SignupStatus } from '../temporal-config';

/** Every time limit and budget the workflow uses; they arrive in its input so tests can shorten them. */
export interface SignupLimits {
  codeTtlMs: number;
  windowMs: number;
  resendCooldownMs: number;
  resendMaxPerHour: number;
  /** Wrong codes accepted per code and per source (v3); per signup in v2. */
  maxAttempts: number;
  /** v2 only: how long a locked signup keeps answering TOO_MANY_ATTEMPTS. */
  lockoutMs: number;
  /** Total time the mail of one signup may take, across every code it issues (v3). */
  emailBudgetMs: number;
  /** Total SMTP attempts of one signup, across every code it issues (v3; absent in v2 inputs). */
  emailMaxAttempts?: number;
}

export interface SignupInput {
  /** The address sealed (AES-GCM) with the signup id as context: history and the UI hold no plaintext. */
  emailSealed: string;
  limits: SignupLimits;
}

export type SignupOutcome = {
  status: Extract<SignupStatus, 'completed' | 'existing_account' | 'locked' | 'expired' | 'failed' | 'mail_failed'>;
  reason?: string;
};

export interface VerifyInput {
  /** HMAC of the submitted code bound to this signup: the code itself never enters history. */
  codeDigest: string;
  /** The name sealed for this signup (v3 APIs). */
  nameSealed: string;
  /** The bcrypt hash sealed for the DB processor; neither the password nor its hash enter history. */
  passwordSealed: string;
  /** Keyed hash of where the attempt came from (IPv4 address or IPv6 /64): attempts count per source. */
  source?: string;
}

/** Ids only: no email, name or hash ever returns through Temporal. */
export interface CreatedUser {
  id: string;
  createdAt: string;
}

export type VerifyFailureCode = 'TOO_MANY_ATTEMPTS' | 'CODE_EXPIRED' | 'EMAIL_TAKEN' | 'ALREADY_VERIFIED' | 'UNAVAILABLE';

export type VerifyResult =
  | { ok: true; user: CreatedUser }
  | { ok: false; code: 'INVALID_CODE'; attemptsLeft: number }
  | { ok: false; code: VerifyFailureCode };

export interface SignupState {
  status: SignupStatus;
  attempts: number;
  codesIssued: number;
}

/** Sent by every POST /signup and /resend: asks for a (new) code, subject to cooldown and hourly cap. */
export const requestCodeSignal = defineSignal('requestCode');
export const verifyUpdate = defineUpdate<VerifyResult, [VerifyInput]>('verify');
export const stateQuery = defineQuery<SignupState>('state');
