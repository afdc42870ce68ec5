/** What changed on the account's second factor: the notice's wording. */
export type MfaNoticeEvent = 'totp_enabled' | 'totp_disabled' | 'recovery_codes_replaced' | 'passkey_added' | 'passkey_removed';

/**
 * A change of the account's second factor: the account's address gets a notice. `emailSealed` is
 * SealContext.email(workflowId). Status words: `notifying`, then `completed` or `mail_failed`.
 */
export interface MfaNoticeInput {
  emailSealed: string;
  event: MfaNoticeEvent;
  /** When the change happened (ISO 8601), as the API saw it. */
  at: string;
  limits: { emailBudgetMs: number; emailMaxAttempts: number };
}

export type MfaNoticeOutcome = { status: 'completed' | 'mail_failed'; reason?: string };
