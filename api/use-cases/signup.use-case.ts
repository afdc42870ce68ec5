import type { Client } from '@temporalio/client';
import bcrypt from 'bcrypt';
import type { Config } from '../../common/config';
import { codeDigest, emailHash, seal, SealContext, signupWorkflowId, sourceHash, type Keys } from '../../common/crypto';
import { AppError, unavailable } from '../../common/errors';
import { metrics, timeBcrypt } from '../../common/metrics';
import { SignupStatusKey, SignupStatusSinceKey } from '../../temporal-config';
import { requestCodeSignal, verifyUpdate, type SignupLimits } from '../../workflows/signup.contract';
import type { signupWorkflow } from '../../workflows/signup.workflow';
import type { RateLimits } from '../security/rate-limits';
import { passwordProblem } from '../security/password-policy';
import { sourceKey } from '../security/source-key';
import type { RequestContext } from './context';
import type { IssuedSession, SessionIssuer } from './sessions.use-case';
import { boundedCall, codeAttempt, invalidCode } from './temporal-calls';

export const signupAccepted = (config: Config) =>
  `If this email can be used, a verification code is on its way. It expires in ${Math.round(config.CODE_TTL_S / 60)} minutes.`;

export function signupLimits(config: Config): SignupLimits {
  return {
    codeTtlMs: config.CODE_TTL_S * 1000,
    windowMs: config.SIGNUP_WINDOW_S * 1000,
    resendCooldownMs: config.RESEND_COOLDOWN_S * 1000,
    resendMaxPerHour: config.RESEND_MAX_PER_HOUR,
    maxAttempts: config.MAX_CODE_ATTEMPTS,
    lockoutMs: config.LOCKOUT_S * 1000,
    emailBudgetMs: config.EMAIL_RETRY_BUDGET_S * 1000,
    emailMaxAttempts: config.EMAIL_RETRY_MAX_ATTEMPTS,
  };
}

export interface SignupDeps {
  temporal: Client;
  taskQueue: string;
  config: Config;
  keys: Keys;
  limits: RateLimits;
  issueSession: SessionIssuer;
}

export function createSignupUseCases(deps: SignupDeps) {
  const { temporal, taskQueue, config, keys, limits, issueSession } = deps;
  const workflowLimits = signupLimits(config);

  const bounded = <T>(ms: number, fn: () => Promise<T>) => boundedCall(temporal, ms, fn);

  return {
    /** POST /signup and /resend: start the signup for this email, or ask the running one for a new code. */
    async requestCode(email: string, ctx: RequestContext, event: 'signup_requested' | 'resend_requested'): Promise<string> {
      const emailDigest = emailHash(keys, email);
      ctx.audit = { ...ctx.audit, emailHash: emailDigest };
      await limits.codeRequested(emailDigest, ctx.ip);
      const workflowId = signupWorkflowId(keys, email);
      await bounded(config.TEMPORAL_CALL_TIMEOUT_MS, () =>
        temporal.workflow.signalWithStart<typeof signupWorkflow>('signupWorkflow', {
          workflowId,
          taskQueue,
          args: [{ emailSealed: seal(keys, email, SealContext.email(workflowId)), limits: workflowLimits }],
          signal: requestCodeSignal,
          signalArgs: [],
          typedSearchAttributes: [
            { key: SignupStatusKey, value: 'checking' },
            { key: SignupStatusSinceKey, value: new Date() },
          ],
        }),
      );
      metrics.signupRequests.inc({ kind: event === 'signup_requested' ? 'signup' : 'resend' });
      ctx.logger.info({ event, emailHash: emailDigest, ip: ctx.ip, workflowId }, 'code requested');
      ctx.trail.record(ctx, { action: event === 'signup_requested' ? 'signup.requested' : 'signup.resend_requested', actor: 'anonymous', userId: null, outcome: 'success' });
      return signupAccepted(config);
    },

    /** POST /verify: hand the code (as a keyed digest) and the sealed password hash to the workflow. */
    async verify(
      input: { email: string; otp: string; password: string; name: string },
      ctx: RequestContext,
    ): Promise<{ user: { id: string; email: string; name: string; createdAt: string }; session: IssuedSession }> {
      const emailDigest = emailHash(keys, input.email);
      ctx.audit = { ...ctx.audit, emailHash: emailDigest };
      await limits.consumeVerifySource(ctx.ip);
      const problem = passwordProblem(input.password, input.email);
      if (problem) throw new AppError('WEAK_PASSWORD', problem);

      const workflowId = signupWorkflowId(keys, input.email);
      const passwordHash = await timeBcrypt('hash', () => bcrypt.hash(input.password, config.BCRYPT_COST));
      const args = {
        codeDigest: codeDigest(keys, workflowId, input.otp),
        nameSealed: seal(keys, input.name, SealContext.name(workflowId)),
        passwordSealed: seal(keys, passwordHash, SealContext.passwordHash(input.email)),
        source: sourceHash(keys, sourceKey(ctx.ip)),
      };
      const result = await codeAttempt(
        'signup',
        limits,
        emailDigest,
        () => ctx.logger.info({ event: 'verify_failed', reason: 'no_pending_signup', emailHash: emailDigest, ip: ctx.ip }, 'verification failed'),
        () => bounded(config.VERIFY_TIMEOUT_MS, () => temporal.workflow.getHandle(workflowId).executeUpdate(verifyUpdate, { args: [args] })),
      );
      if (!result.ok) {
        ctx.logger.info({ event: 'verify_failed', reason: result.code, emailHash: emailDigest, ip: ctx.ip, workflowId }, 'verification failed');
        ctx.trail.record(ctx, { action: 'signup.verify_failed', actor: 'anonymous', userId: null, outcome: 'failure' });
        if (result.code === 'INVALID_CODE') {
          throw invalidCode(result.attemptsLeft);
        }
        if (result.code === 'UNAVAILABLE') throw unavailable('worker');
        throw new AppError(result.code);
      }
      // The workflow answers with ids only; the profile comes from what this request carried.
      const user = { id: result.user.id, email: input.email, name: input.name, createdAt: result.user.createdAt };
      // The emailed code proved the mailbox; the password was only set here.
      const session = await issueSession(user, ctx, { amr: ['otp'], origin: 'signup_verified' });
      metrics.signupsVerified.inc();
      ctx.logger.info({ event: 'verified', userId: user.id, emailHash: emailDigest, ip: ctx.ip, workflowId }, 'email verified, account created');
      return { user, session };
    },
  };
}
export type SignupUseCases = ReturnType<typeof createSignupUseCases>;
