/**
 * A sign-in from a device that had not signed in to the account before: the account's address gets
 * a notice. `emailSealed` is SealContext.email(workflowId); `detailsSealed` (JSON `{ ip, userAgent }`)
 * SealContext.signinDetails(workflowId). Status words: `notifying`, then `completed` or `mail_failed`.
 */
export interface SigninNoticeInput {
  emailSealed: string;
  detailsSealed: string;
  /** When the sign-in happened (ISO 8601), as the API saw it. */
  at: string;
  limits: { emailBudgetMs: number; emailMaxAttempts: number };
}

export type SigninNoticeOutcome = { status: 'completed' | 'mail_failed'; reason?: string };
