/** ApplicationFailure types shared by activities and workflows (workflow-safe: constants only). */
export const Failure = {
  smtpPermanent: 'SMTP_PERMANENT',
  smtpUnavailable: 'SMTP_UNAVAILABLE',
  codeGone: 'CODE_GONE',
  mailBudgetSpent: 'MAIL_BUDGET_SPENT',
  sendInProgress: 'SEND_IN_PROGRESS',
  emailTaken: 'EMAIL_TAKEN',
  invalidRequest: 'INVALID_REQUEST',
} as const;
