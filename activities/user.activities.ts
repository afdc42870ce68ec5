import { ApplicationFailure, Context } from '@temporalio/activity';
import { Code } from '../common/errors';
import { Failure } from '../common/failures';
import { seal, SealContext, unseal, type Keys } from '../common/crypto';
import { RemoteError, type KafkaRequester } from '../common/kafka/request-reply';
import { metrics } from '../common/metrics';

/** The type of the workflow running this activity (undefined outside an activity, e.g. unit tests). */
function workflowType(): string | undefined {
  try {
    return Context.current().info.workflowType;
  } catch {
    return undefined;
  }
}

export function createUserActivities(deps: { requester: KafkaRequester; keys: Keys }) {
  const { requester, keys } = deps;
  const emailOf = (signupId: string, emailSealed: string) => unseal(keys, emailSealed, SealContext.email(signupId));
  // The API seals the hash for the email; on Kafka it travels bound to this signup run only.
  const bindToSignup = (email: string, signupRef: string, sealed: string) =>
    seal(keys, unseal(keys, sealed, SealContext.passwordHash(email)), SealContext.passwordHashForSignup(signupRef));

  return {
    async isEmailRegistered(input: { signupId: string; emailSealed: string }): Promise<boolean> {
      const email = emailOf(input.signupId, input.emailSealed);
      const { exists } = await requester.request('user.exists', { email }, { key: email });
      // The check is a signup run's first step (email changes use it too): a signup started.
      if (workflowType() === 'signupWorkflow') metrics.signupsStarted.inc({ account: exists ? 'existing' : 'new' });
      return exists;
    },

    /**
     * Idempotent per signup run: a retry returns the user the first attempt created. Returns ids
     * only, so no email or name enters Temporal history. `name` is what release v2 sent.
     */
    async createUser(input: { signupId: string; signupRef: string; emailSealed: string; nameSealed?: string; name?: string; passwordSealed: string }): Promise<{ id: string; createdAt: string }> {
      const email = emailOf(input.signupId, input.emailSealed);
      const name = input.nameSealed !== undefined ? unseal(keys, input.nameSealed, SealContext.name(input.signupId)) : input.name;
      if (!name) throw ApplicationFailure.create({ type: Failure.invalidRequest, message: 'no name given', nonRetryable: true });
      try {
        const { user } = await requester.request(
          'user.create',
          { signupRef: input.signupRef, email, name, passwordSealed: bindToSignup(email, input.signupRef, input.passwordSealed) },
          { key: email },
        );
        return { id: user.id, createdAt: user.createdAt };
      } catch (err) {
        if (err instanceof RemoteError && err.code === Code.EMAIL_TAKEN) {
          throw ApplicationFailure.create({ type: Failure.emailTaken, message: 'email already registered', nonRetryable: true });
        }
        if (err instanceof RemoteError && err.code === Code.INVALID_REQUEST) {
          throw ApplicationFailure.create({ type: Failure.invalidRequest, message: err.message, nonRetryable: true });
        }
        throw err;
      }
    },
  };
}
