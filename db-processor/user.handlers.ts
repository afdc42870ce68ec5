import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/postgresql';
import { Code, type ReplyErrorCode } from '../common/errors';
import { deriveKeys, SealContext, seal, unseal, type Keys } from '../common/crypto';
import type { PublicUser, RequestPayload, RequestResult, RequestType } from '../common/kafka/messages';
import { User } from '../entities/user.entity';
import { appendAudit, appendEvent, recordChange } from './outbox';

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

    // The user and its user.registered event commit together; a retried create (same signup run)
    // finds the user and writes no second event.
    'user.create': async (em, { signupRef, email, name, passwordSealed }) => {
      const passwordHash = unseal(keys, passwordSealed, SealContext.passwordHashForSignup(signupRef));
      const user = em.create(User, { email, name, passwordHash, signupRef, emailVerifiedAt: new Date() } as User);
      try {
        await em.transactional(async (tx) => {
          tx.persist(user);
          await tx.flush();
          await recordChange(tx, { type: 'user.registered', userId: user.id, data: {} }, 'user');
        });
        return { user: toPublic(user) };
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        const existing = await em.fork().findOne(User, { email });
        if (existing && existing.signupRef === signupRef) return { user: toPublic(existing) };
        throw new HandlerError(Code.EMAIL_TAKEN, 'an account with this email already exists');
      }
    },

    // Idempotent: a retry carries the same hash, finds it written, and writes no second event.
    'user.set-password': async (em, { userId, passwordSealed, cause }) => {
      const passwordHash = unseal(keys, passwordSealed, SealContext.newPasswordHashForUser(userId));
      return em.transactional(async (tx) => {
        const changed = await tx.nativeUpdate(User, { id: userId, passwordHash: { $ne: passwordHash } }, { passwordHash, updatedAt: new Date() } as Partial<User>);
        if (changed > 0) await recordChange(tx, { type: cause === 'reset' ? 'password.reset' : 'password.changed', userId, data: {} }, 'user');
        return { updated: changed > 0 || (await tx.count(User, { id: userId })) > 0 };
      });
    },

    // Idempotent: a retry finds the account already at the new address (and writes no second event).
    'user.change-email': async (em, { userId, fromEmail, toEmail, undo }) => {
      try {
        return await em.transactional(async (tx) => {
          const user = await tx.findOne(User, { id: userId });
          if (!user || (user.email !== fromEmail && user.email !== toEmail)) throw new HandlerError('ACCOUNT_GONE', 'the account is not at that address');
          if (user.email === toEmail) return { user: toPublic(user) };
          user.email = toEmail;
          await tx.flush();
          await recordChange(tx, { type: 'email.changed', userId, data: { undo: undo ?? false } }, 'user');
          return { user: toPublic(user) };
        });
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException) throw new HandlerError('EMAIL_TAKEN', 'an account with this email already exists');
        throw err;
      }
    },

    'user.close': async (em, { userId }) =>
      em.transactional(async (tx) => {
        const closed = await tx.nativeUpdate(User, { id: userId, closedAt: null }, { closedAt: new Date(), updatedAt: new Date() } as Partial<User>);
        if (closed > 0) await recordChange(tx, { type: 'account.closure_requested', userId, data: {} }, 'user');
        return { closed: closed > 0 || (await tx.count(User, { id: userId })) > 0 };
      }),

    'user.reopen': async (em, { userId }) =>
      em.transactional(async (tx) => {
        const reopened = await tx.nativeUpdate(User, { id: userId, closedAt: { $ne: null } }, { closedAt: null, updatedAt: new Date() } as Partial<User>);
        if (reopened > 0) await recordChange(tx, { type: 'account.restored', userId, data: {} }, 'user');
        return { reopened: reopened > 0 || (await tx.count(User, { id: userId })) > 0 };
      }),

    // Personal data leaves with the row; the address can sign up again. The event keeps only the id.
    'user.erase': async (em, { userId }) =>
      em.transactional(async (tx) => {
        const erased = await tx.nativeDelete(User, { id: userId, closedAt: { $ne: null } });
        if (erased > 0) await recordChange(tx, { type: 'account.closed', userId, data: {} }, 'system');
        return { erased: erased > 0 };
      }),

    // The API's audit entries and the events of what lives in Redis (sessions, failed sign-ins).
    'audit.record': async (em, { entry, event }) =>
      em.transactional(async (tx) => {
        await appendAudit(tx, entry);
        if (event) await appendEvent(tx, event);
        return { recorded: true as const };
      }),
  };
}
