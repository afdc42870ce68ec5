import { randomUUID } from 'node:crypto';
import type { Config } from '../../common/config';
import { codeDigest, emailChangeWorkflowId, emailHash, emailUndoWorkflowId, seal, SealContext, sourceHash } from '../../common/crypto';
import { AppError, unavailable } from '../../common/errors';
import { metrics } from '../../common/metrics';
import { AccountFlowStatusKey, AccountFlowStatusSinceKey, EMAIL_UNDO_WORKFLOW_ID_PREFIX } from '../../temporal-config/account-flows';
import { undoEmailChangeUpdate, verifyEmailChangeUpdate, type EmailChangeLimits } from '../../workflows/email-change.contract';
import type { emailChangeWorkflow } from '../../workflows/email-change.workflow';
import { sourceKey } from '../security/source-key';
import type { AuthMethod, SessionProfile, SessionStore } from '../sessions/session.store';
import type { RequestContext } from './context';
import { createAccountLookups } from './current-password';
import type { IssuedSession } from './sessions.use-case';
import type { PasswordDeps } from './password.use-case';
import { boundedCall, invalidCode, noPendingFlow, redeemLink } from './temporal-calls';

export const emailChangeAccepted = (config: Config) =>
  `If this address can be used, a code to confirm it is on its way. It expires in ${Math.round(config.CODE_TTL_S / 60)} minutes.`;

export function emailChangeLimits(config: Config): EmailChangeLimits {
  return {
    codeTtlMs: config.CODE_TTL_S * 1000,
    maxAttempts: config.MAX_CODE_ATTEMPTS,
    undoWindowMs: config.EMAIL_UNDO_WINDOW_S * 1000,
    emailBudgetMs: config.EMAIL_RETRY_BUDGET_S * 1000,
    emailMaxAttempts: config.EMAIL_RETRY_MAX_ATTEMPTS,
  };
}

/** An undo link's token: the undo window's workflow id, a dot, and the secret. */
const UNDO_TOKEN = new RegExp(`^(${EMAIL_UNDO_WORKFLOW_ID_PREFIX}[0-9a-f]{32}-[0-9a-f-]{36})\\.([A-Za-z0-9_-]{43})$`);

/** What the password flows need, and the session store (an undo ends every session). */
export interface EmailDeps extends PasswordDeps {
  sessions: SessionStore;
}

export function createEmailUseCases(deps: EmailDeps) {
  const { temporal, taskQueue, config, keys, limits, requester, sessions, issueSession } = deps;
  const flowLimits = emailChangeLimits(config);
  const bounded = <T>(ms: number, fn: () => Promise<T>) => boundedCall(temporal, ms, fn);
  const { checkCurrentPassword } = createAccountLookups({ requester, keys, limits });
  type Auth = { uid: string; sid: string; profile: SessionProfile; session?: { amr: string[] } };

  return {
    /**
     * POST /email/change: after the password, a code to the new address. The same answer when
     * another account has the address (its code is never mailed). A new request replaces a
     * pending one.
     */
    async change(input: { newEmail: string; password: string }, auth: Auth, ctx: RequestContext): Promise<string> {
      await checkCurrentPassword(input.password, auth, ctx, 'email_change_failed');
      await limits.codeRequested(emailHash(keys, input.newEmail), ctx.ip);
      const workflowId = emailChangeWorkflowId(keys, auth.uid);
      const undoId = emailUndoWorkflowId(keys, auth.uid, randomUUID());
      await bounded(config.TEMPORAL_CALL_TIMEOUT_MS, () =>
        temporal.workflow.start<typeof emailChangeWorkflow>('emailChangeWorkflow', {
          workflowId,
          taskQueue,
          workflowIdConflictPolicy: 'TERMINATE_EXISTING',
          args: [{
            userId: auth.uid,
            newEmailSealed: seal(keys, input.newEmail, SealContext.email(workflowId)),
            oldEmailSealed: seal(keys, auth.profile.email, SealContext.otherEmail(workflowId)),
            undo: {
              workflowId: undoId,
              oldEmailSealed: seal(keys, auth.profile.email, SealContext.email(undoId)),
              newEmailSealed: seal(keys, input.newEmail, SealContext.otherEmail(undoId)),
            },
            limits: flowLimits,
          }],
          typedSearchAttributes: [
            { key: AccountFlowStatusKey, value: 'checking' },
            { key: AccountFlowStatusSinceKey, value: new Date() },
          ],
        }),
      );
      ctx.logger.info({ event: 'email_change_requested', userId: auth.uid, ip: ctx.ip, workflowId }, 'email change requested');
      return emailChangeAccepted(config);
    },

    /**
     * POST /email/verify: the code moves the account; this session is renewed with the new address.
     * A retry whose first answer was lost (503 after the change was applied) finds nothing pending:
     * it is answered as applied when this session still carries an address the account no longer
     * has, because an applied change revokes every session but the one that verified it (an undo, a
     * reset or a closure revokes all), so only that session can be in this state.
     */
    async verify(code: string, auth: Auth, ctx: RequestContext): Promise<{ user: SessionProfile; session: IssuedSession }> {
      await limits.consumeVerifySource(ctx.ip);
      const workflowId = emailChangeWorkflowId(keys, auth.uid);
      const args = { codeDigest: codeDigest(keys, workflowId, code), keepSessionId: auth.sid, source: sourceHash(keys, sourceKey(ctx.ip)) };
      let result;
      let pending = true;
      try {
        result = await bounded(config.VERIFY_TIMEOUT_MS, () => temporal.workflow.getHandle(workflowId).executeUpdate(verifyEmailChangeUpdate, { args: [args] }));
      } catch (err) {
        if (!noPendingFlow(err)) throw err;
        pending = false;
        result = { ok: false as const, code: 'CODE_EXPIRED' as const };
      }
      if (result.ok) metrics.codeChecks.inc({ flow: 'email-change', result: 'accepted' });
      else if (!pending) metrics.codeChecks.inc({ flow: 'email-change', result: 'NO_PENDING_FLOW' });
      else if (result.code !== 'UNAVAILABLE') metrics.codeChecks.inc({ flow: 'email-change', result: result.code });
      if (!result.ok) {
        if (result.code === 'CODE_EXPIRED') {
          const user = await currentUser();
          if (user && user.email !== auth.profile.email) {
            // Two of these at once: the one that ends this session renews it; the other finds it gone.
            if (!(await sessions.revoke(auth.uid, auth.sid))) throw new AppError('UNAUTHENTICATED');
            return renew(user, 'email_change_answered_again');
          }
        }
        ctx.logger.info({ event: 'email_verify_failed', reason: result.code, userId: auth.uid, ip: ctx.ip, workflowId }, 'email change verification failed');
        ctx.trail.record(ctx, { action: 'email.verify_failed', actor: 'user', userId: auth.uid, outcome: 'failure' });
        if (result.code === 'INVALID_CODE') throw invalidCode(result.attemptsLeft);
        if (result.code === 'UNAVAILABLE') throw unavailable('worker');
        if (!pending) throw new AppError('CODE_EXPIRED', 'No email change is pending. Ask for a new code.');
        throw new AppError(result.code);
      }
      const user = await currentUser();
      if (!user) throw unavailable('db-processor');
      return renew(user, 'email_changed');

      // The address the account has now, read by id: the request never carried it.
      async function currentUser() {
        const { user } = await requester.request('user.get', { id: auth.uid }, { key: auth.uid }).catch((err: unknown) => {
          throw unavailable('db-processor', err);
        });
        return user;
      }

      // The session kept its old profile: it is replaced by one that carries the new address.
      async function renew(user: SessionProfile, event: string) {
        await sessions.revoke(auth.uid, auth.sid);
        // The change asked for the password and the code proved the new mailbox; the renewed session
        // also keeps the factors the old one was signed in with.
        const session = await issueSession(user, ctx, { amr: [...new Set<AuthMethod>([...((auth.session?.amr ?? []) as AuthMethod[]), 'pwd', 'otp'])], origin: 'email_change' });
        ctx.logger.info({ event, userId: auth.uid, ip: ctx.ip, workflowId }, 'email changed, other sessions revoked');
        return { user, session };
      }
    },

    /** POST /email/undo: the link from the notice moves the account back and revokes every session. */
    async undo(token: string, ctx: RequestContext): Promise<void> {
      await limits.consumeVerifySource(ctx.ip);
      const workflowId = await redeemLink({ temporal, keys, timeoutMs: config.VERIFY_TIMEOUT_MS }, UNDO_TOKEN, token, undoEmailChangeUpdate, (id, reason) =>
        ctx.logger.info({ event: 'email_undo_failed', reason, ip: ctx.ip, workflowId: id }, 'email change undo failed'),
      );
      ctx.logger.info({ event: 'email_change_undone', ip: ctx.ip, workflowId }, 'email change undone, every session revoked');
    },
  };
}
export type EmailUseCases = ReturnType<typeof createEmailUseCases>;
