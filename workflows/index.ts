export { signupWorkflow } from './signup.workflow';
export { passwordResetWorkflow } from './password-reset.workflow';
export { passwordChangeWorkflow } from './password-change.workflow';
export { emailChangeWorkflow, emailUndoWorkflow } from './email-change.workflow';
export { accountClosureWorkflow } from './account-closure.workflow';
export { signinNoticeWorkflow } from './signin-notice.workflow';
export { mfaNoticeWorkflow } from './mfa-notice.workflow';
