/** The second-factor change notice's constants (constants only: safe to import from workflow code). */
export const MFA_NOTICE_WORKFLOW_ID_PREFIX = 'mfa-notice-';
