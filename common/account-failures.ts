/**
 * ApplicationFailure types of the account flows (workflow-safe: constants only). Apart from
 * common/failures.ts, which belongs to the signup workflow's release.
 */
export const AccountFailure = {
  accountGone: 'ACCOUNT_GONE',
} as const;
