/** The new-device sign-in notice's constants (constants only: safe to import from workflow code). */
export const SIGNIN_NOTICE_WORKFLOW_ID_PREFIX = 'signin-notice-';
