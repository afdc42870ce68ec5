export { signupWorkflow } from './signup.workflow';
export { passwordResetWorkflow } from './password-reset.workflow';
export { passwordChangeWorkflow } from './password-change.workflow';
