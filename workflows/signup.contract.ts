import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PublicUser } from '../common/kafka/messages';
import type { SignupStatus } from '../temporal-config';

/** Every time limit the workflow uses; they arrive in its input so tests can shorten them. */
export interface SignupLimits {
  codeTtlMs: number;
  windowMs: number;
  resendCooldownMs: number;
  resendMaxPerHour: number;
  maxAttempts: number;
  lockoutMs: number;
  emailBudgetMs: number;
}

export interface SignupInput {
  /** The address sealed (AES-GCM) with the signup id as context: history and the UI hold no plaintext. */
  emailSealed: string;
  limits: SignupLimits;
}

export type SignupOutcome = { status: Extract<SignupStatus, 'completed' | 'existing_account' | 'locked' | 'expired' | 'failed'>; reason?: string };

export interface VerifyInput {
  /** HMAC of the submitted code bound to this signup: the code itself never enters history. */
  codeDigest: string;
  name: string;
  /** The bcrypt hash sealed for the DB processor; neither the password nor its hash enter history. */
  passwordSealed: string;
}

export type VerifyResult =
  | { ok: true; user: PublicUser }
  | { ok: false; code: 'INVALID_CODE'; attemptsLeft: number }
  | { ok: false; code: 'TOO_MANY_ATTEMPTS' | 'CODE_EXPIRED' | 'EMAIL_TAKEN' | 'ALREADY_VERIFIED' | 'UNAVAILABLE' };

export interface SignupState {
  status: SignupStatus;
  attempts: number;
  codesIssued: number;
}

/** Sent by every POST /signup and /resend: asks for a (new) code, subject to cooldown and hourly cap. */
export const requestCodeSignal = defineSignal('requestCode');
export const verifyUpdate = defineUpdate<VerifyResult, [VerifyInput]>('verify');
export const stateQuery = defineQuery<SignupState>('state');
