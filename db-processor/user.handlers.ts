import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/postgresql';
import { Code, type ReplyErrorCode } from '../common/errors';
import { deriveKeys, SealContext, seal, unseal, type Keys } from '../common/crypto';
import type { PublicUser, RequestPayload, RequestResult, RequestType } from '../common/kafka/messages';
import { User } from '../entities/user.entity';

/** A refusal the requester should see as-is (not retried, not dead-lettered). */
export class HandlerError extends Error {
  constructor(readonly code: ReplyErrorCode, message: string) {
    super(message);
  }
}

const toPublic = (u: User): PublicUser => ({ id: u.id, email: u.email, name: u.name, createdAt: u.createdAt.toISOString() });

export type Handlers = { [T in RequestType]: (em: EntityManager, payload: RequestPayload<T>) => Promise<RequestResult<T>> };

export function createUserHandlers(secrets: { HMAC_KEY: string; SEALING_KEY: string }): Handlers {
  const keys: Keys = deriveKeys(secrets);
  return {
    'user.exists': async (em, { email }) => ({ exists: (await em.count(User, { email })) > 0 }),

    // A closed account is not found: it cannot sign in or reset its password (its address stays taken).
    'user.find': async (em, { email }) => {
      const user = await em.findOne(User, { email, closedAt: null });
      if (!user) return { user: null };
      return { user: { ...toPublic(user), passwordSealed: seal(keys, user.passwordHash, SealContext.passwordHashForUser(user.id)) } };
    },

    'user.get': async (em, { id }) => {
      const user = await em.findOne(User, { id });
      return { user: user ? toPublic(user) : null };
    },

    'user.create': async (em, { signupRef, email, name, passwordSealed }) => {
      const passwordHash = unseal(keys, passwordSealed, SealContext.passwordHashForSignup(signupRef));
      const user = em.create(User, { email, name, passwordHash, signupRef, emailVerifiedAt: new Date() } as User);
      try {
        await em.persistAndFlush(user);
        return { user: toPublic(user) };
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        const existing = await em.fork().findOne(User, { email });
        if (existing && existing.signupRef === signupRef) return { user: toPublic(existing) };
        throw new HandlerError(Code.EMAIL_TAKEN, 'an account with this email already exists');
      }
    },

    // Idempotent: a retried request writes the same hash again.
    'user.set-password': async (em, { userId, passwordSealed }) => {
      const passwordHash = unseal(keys, passwordSealed, SealContext.newPasswordHashForUser(userId));
      const updated = await em.nativeUpdate(User, { id: userId }, { passwordHash, updatedAt: new Date() } as Partial<User>);
      return { updated: updated > 0 };
    },

    // Idempotent: a retry finds the account already at the new address.
    'user.change-email': async (em, { userId, fromEmail, toEmail }) => {
      const user = await em.findOne(User, { id: userId });
      if (!user || (user.email !== fromEmail && user.email !== toEmail)) throw new HandlerError('ACCOUNT_GONE', 'the account is not at that address');
      if (user.email === toEmail) return { user: toPublic(user) };
      user.email = toEmail;
      try {
        await em.flush();
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException) throw new HandlerError('EMAIL_TAKEN', 'an account with this email already exists');
        throw err;
      }
      return { user: toPublic(user) };
    },

    'user.close': async (em, { userId }) => {
      await em.nativeUpdate(User, { id: userId, closedAt: null }, { closedAt: new Date(), updatedAt: new Date() } as Partial<User>);
      return { closed: (await em.count(User, { id: userId })) > 0 };
    },

    'user.reopen': async (em, { userId }) => {
      const updated = await em.nativeUpdate(User, { id: userId }, { closedAt: null, updatedAt: new Date() } as Partial<User>);
      return { reopened: updated > 0 };
    },

    // Personal data leaves with the row; the address can sign up again.
    'user.erase': async (em, { userId }) => ({ erased: (await em.nativeDelete(User, { id: userId, closedAt: { $ne: null } })) > 0 }),
  };
}
