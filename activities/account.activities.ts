import { ApplicationFailure } from '@temporalio/activity';
import { AccountFailure } from '../common/account-failures';
import { Failure } from '../common/failures';
import { seal, SealContext, unseal, type Keys } from '../common/crypto';
import { RemoteError, type KafkaRequester } from '../common/kafka/request-reply';
import type { SessionStore } from '../api/sessions/session.store';

/**
 * Activities of the account flows after signup (password reset and change). Like the signup's,
 * they take sealed values and return ids only, so nothing personal enters Temporal history.
 */
export function createAccountActivities(deps: { requester: KafkaRequester; keys: Keys; sessions: SessionStore }) {
  const { requester, keys, sessions } = deps;
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
          { userId: input.userId, passwordSealed: seal(keys, hash, SealContext.newPasswordHashForUser(input.userId)) },
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

    /** Ends every session of the user but `keepSessionId` (the one that changed the password, if any). */
    async revokeSessions(input: { userId: string; keepSessionId?: string }): Promise<{ revoked: number }> {
      return { revoked: await sessions.revokeAllExcept(input.userId, input.keepSessionId) };
    },
  };
}
