import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../activities';
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
