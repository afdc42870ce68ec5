import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type Redis from 'ioredis';
import { AccountFailure } from '../common/account-failures';
import { Failure } from '../common/failures';
import { codeDigest, seal, SealContext, unseal, type Keys } from '../common/crypto';
import { RemoteError, type KafkaRequester } from '../common/kafka/request-reply';
import { EMAIL_UNDO_WORKFLOW_ID_PREFIX, PASSWORD_RESET_WORKFLOW_ID_PREFIX } from '../temporal-config/account-flows';
import type { SessionStore } from '../api/sessions/session.store';

/** Where the sealed secret of an undo link waits for the mail activity. */
export const undoSecretKey = (flowId: string, run: string) => `undo-secret:${flowId}:${run}`;

/**
 * Activities of the account flows after signup (password reset and change, email change, closure). Like the signup's,
 * they take sealed values and return ids only, so nothing personal enters Temporal history.
 */
export function createAccountActivities(deps: { requester: KafkaRequester; keys: Keys; sessions: SessionStore; redis: Redis }) {
  const { requester, keys, sessions, redis } = deps;
  return {
    /** The id of the verified account with this email, or null (every account is verified at creation). */
    async findAccount(input: { flowId: string; emailSealed: string }): Promise<{ userId: string } | null> {
      const email = unseal(keys, input.emailSealed, SealContext.email(input.flowId));
      const { user } = await requester.request('user.find', { email }, { key: email });
      return user ? { userId: user.id } : null;
    },

    /** Writes the new password hash through the DB processor; idempotent (the same hash again). */
    async setPassword(input: { flowId: string; userId: string; passwordSealed: string }): Promise<void> {
      const hash = unseal(keys, input.passwordSealed, SealContext.newPasswordHashForFlow(input.flowId));
      try {
        const { updated } = await requester.request(
          'user.set-password',
          {
            userId: input.userId,
            passwordSealed: seal(keys, hash, SealContext.newPasswordHashForUser(input.userId)),
            // The flow's id names the auth event (password.reset or password.changed).
            cause: input.flowId.startsWith(PASSWORD_RESET_WORKFLOW_ID_PREFIX) ? 'reset' : 'change',
          },
          { key: input.userId },
        );
        if (!updated) throw ApplicationFailure.create({ type: AccountFailure.accountGone, message: 'the account no longer exists', nonRetryable: true });
      } catch (err) {
        if (err instanceof RemoteError && err.code === 'INVALID_REQUEST') {
          throw ApplicationFailure.create({ type: Failure.invalidRequest, message: err.message, nonRetryable: true });
        }
        throw err;
      }
    },

    /**
     * Moves the account from the flow's other address (SealContext.otherEmail) to its own
     * (SealContext.email): an email change, or its undo. Ids only come back.
     */
    async changeEmail(input: { flowId: string; userId: string; fromSealed: string; toSealed: string }): Promise<void> {
      const fromEmail = unseal(keys, input.fromSealed, SealContext.otherEmail(input.flowId));
      const toEmail = unseal(keys, input.toSealed, SealContext.email(input.flowId));
      try {
        // The undo window's id names the event's `undo`.
        const undo = input.flowId.startsWith(EMAIL_UNDO_WORKFLOW_ID_PREFIX);
        await requester.request('user.change-email', { userId: input.userId, fromEmail, toEmail, undo }, { key: input.userId });
      } catch (err) {
        if (err instanceof RemoteError && err.code === Failure.emailTaken) {
          throw ApplicationFailure.create({ type: Failure.emailTaken, message: 'the address belongs to another account', nonRetryable: true });
        }
        if (err instanceof RemoteError && err.code === AccountFailure.accountGone) {
          throw ApplicationFailure.create({ type: AccountFailure.accountGone, message: err.message, nonRetryable: true });
        }
        throw err;
      }
    },

    /**
     * The secret of a one-time link (an email change's undo, a closure's restore), made once per flow run (a retry finds it): kept sealed in Redis
     * for the mail activity, only its keyed digest returns to the workflow.
     */
    async createUndoToken(input: { flowId: string; run: string; ttlMs: number }): Promise<{ digest: string }> {
      const key = undoSecretKey(input.flowId, input.run);
      await redis.set(key, seal(keys, randomBytes(32).toString('base64url'), SealContext.undoSecret(input.flowId)), 'PX', input.ttlMs, 'NX');
      const sealed = await redis.get(key);
      if (!sealed) throw ApplicationFailure.create({ type: Failure.codeGone, message: 'the undo secret expired before it was read' });
      return { digest: codeDigest(keys, input.flowId, unseal(keys, sealed, SealContext.undoSecret(input.flowId))) };
    },

    /** Closes the account (sign-in no longer finds it); idempotent. */
    async closeAccount(input: { userId: string }): Promise<void> {
      const { closed } = await requester.request('user.close', { userId: input.userId }, { key: input.userId });
      if (!closed) throw ApplicationFailure.create({ type: AccountFailure.accountGone, message: 'the account no longer exists', nonRetryable: true });
    },

    /** Opens a closed account again (a restore within the grace period); idempotent. */
    async reopenAccount(input: { userId: string }): Promise<void> {
      const { reopened } = await requester.request('user.reopen', { userId: input.userId }, { key: input.userId });
      if (!reopened) throw ApplicationFailure.create({ type: AccountFailure.accountGone, message: 'the account no longer exists', nonRetryable: true });
    },

    /** Deletes a closed account's row at the end of its grace period; a retry finds nothing to delete. */
    async eraseAccount(input: { userId: string }): Promise<{ erased: boolean }> {
      return requester.request('user.erase', { userId: input.userId }, { key: input.userId });
    },

    /** Ends every session of the user but `keepSessionId` (the one that changed the password, if any). */
    async revokeSessions(input: { userId: string; keepSessionId?: string }): Promise<{ revoked: number }> {
      return { revoked: await sessions.revokeAllExcept(input.userId, input.keepSessionId) };
    },
  };
}
