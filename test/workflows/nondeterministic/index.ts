import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../activities';
import type { AccountClosureInput, AccountClosureOutcome } from '../../../workflows/account-closure.contract';
import type { SigninNoticeInput, SigninNoticeOutcome } from '../../../workflows/signin-notice.contract';
import type { MfaNoticeInput, MfaNoticeOutcome } from '../../../workflows/mfa-notice.contract';
import type { EmailChangeInput, EmailChangeOutcome, EmailUndoInput, EmailUndoOutcome } from '../../../workflows/email-change.contract';
import type { PasswordChangeInput, PasswordChangeOutcome } from '../../../workflows/password-change.contract';
import type { PasswordResetInput, PasswordResetOutcome } from '../../../workflows/password-reset.contract';
import type { SignupInput, SignupOutcome } from '../../../workflows/signup.contract';

const acts = proxyActivities<Activities>({ startToCloseTimeout: '5 seconds' });

/**
 * A deliberately incompatible edit of signupWorkflow: it skips the "is the email registered"
 * check and the release patch. Replaying a recorded history of any release against it must fail.
 */
export async function signupWorkflow(input: SignupInput): Promise<SignupOutcome> {
  await acts.sendCodeEmail({ signupId: 'x', emailSealed: input.emailSealed, seq: 1, ttlMs: input.limits.codeTtlMs });
  return { status: 'completed' };
}

/** A broken password reset: it mails a code before looking the account up. */
export async function passwordResetWorkflow(input: PasswordResetInput): Promise<PasswordResetOutcome> {
  await acts.sendCodeEmail({ signupId: 'x', emailSealed: input.emailSealed, seq: 1, ttlMs: input.limits.codeTtlMs });
  return { status: 'completed' };
}

/** A broken password change: it mails the notice before writing the password. */
export async function passwordChangeWorkflow(input: PasswordChangeInput): Promise<PasswordChangeOutcome> {
  await acts.sendPasswordChangedNotice({ flowId: 'x', emailSealed: input.emailSealed, dedupKey: 'x' });
  return { status: 'completed' };
}

/** A broken email change: it moves the account before any code. */
export async function emailChangeWorkflow(input: EmailChangeInput): Promise<EmailChangeOutcome> {
  await acts.changeEmail({ flowId: 'x', userId: input.userId, fromSealed: input.oldEmailSealed, toSealed: input.newEmailSealed });
  return { status: 'completed' };
}

/** A broken undo window: it mails before the token exists. */
export async function emailUndoWorkflow(input: EmailUndoInput): Promise<EmailUndoOutcome> {
  await acts.sendEmailChangedNotice({ flowId: 'x', emailSealed: input.oldEmailSealed, run: 'x', undoTtlMs: input.limits.undoWindowMs });
  return { status: 'completed' };
}

/** A broken closure: it erases the account before closing it. */
export async function accountClosureWorkflow(input: AccountClosureInput): Promise<AccountClosureOutcome> {
  await acts.eraseAccount({ userId: input.userId });
  return { status: 'erased' };
}

/** A broken sign-in notice: it looks an account up before mailing. */
export async function signinNoticeWorkflow(input: SigninNoticeInput): Promise<SigninNoticeOutcome> {
  await acts.findAccount({ flowId: 'x', emailSealed: input.emailSealed });
  return { status: 'completed' };
}

/** A broken second-factor notice: it looks an account up before mailing. */
export async function mfaNoticeWorkflow(input: MfaNoticeInput): Promise<MfaNoticeOutcome> {
  await acts.findAccount({ flowId: 'x', emailSealed: input.emailSealed });
  return { status: 'completed' };
}
