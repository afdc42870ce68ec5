/**
 * The account closure's constants. Apart from account-flows.ts, which is part of the older account
 * flows' releases (scripts/lib/workflow-release.ts). Constants only: safe to import from workflow code.
 */
export const ACCOUNT_CLOSURE_WORKFLOW_ID_PREFIX = 'account-closure-';
