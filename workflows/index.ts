export { signupWorkflow } from './signup.workflow';
