import { randomUUID } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/postgresql';
import { Code, type ReplyErrorCode } from '../common/errors';
import { deriveKeys, SealContext, seal, unseal, type Keys } from '../common/crypto';
import type { PublicUser, RequestPayload, RequestResult, RequestType } from '../common/kafka/messages';
import { RecoveryCode } from '../entities/recovery-code.entity';
import { User } from '../entities/user.entity';

/** A refusal the requester should see as-is (not retried, not dead-lettered). */
export class HandlerError extends Error {
  constructor(readonly code: ReplyErrorCode, message: string) {
    super(message);
  }
}

const toPublic = (u: User): PublicUser => ({ id: u.id, email: u.email, name: u.name, createdAt: u.createdAt.toISOString() });

async function replaceCodes(em: EntityManager, userId: string, digests: string[]): Promise<void> {
  await em.nativeDelete(RecoveryCode, { userId });
  const now = new Date();
  await em.insertMany(RecoveryCode, [...new Set(digests)].map((digest) => ({ id: randomUUID(), userId, digest, createdAt: now, updatedAt: now })));
}

export type Handlers = { [T in RequestType]: (em: EntityManager, payload: RequestPayload<T>) => Promise<RequestResult<T>> };

export function createUserHandlers(secrets: { HMAC_KEY: string; SEALING_KEY: string }): Handlers {
  const keys: Keys = deriveKeys(secrets);
  return {
    'user.exists': async (em, { email }) => ({ exists: (await em.count(User, { email })) > 0 }),

    // A closed account is not found: it cannot sign in or reset its password (its address stays taken).
    'user.find': async (em, { email }) => {
      const user = await em.findOne(User, { email, closedAt: null });
      if (!user) return { user: null };
      return { user: { ...toPublic(user), passwordSealed: seal(keys, user.passwordHash, SealContext.passwordHashForUser(user.id)), totp: Boolean(user.totpSecretSealed) } };
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

    'user.mfa-get': async (em, { userId }) => {
      const user = await em.findOne(User, { id: userId, closedAt: null });
      if (!user?.totpSecretSealed) return { totp: null, recoveryCodesLeft: 0 };
      return { totp: { secretSealed: user.totpSecretSealed }, recoveryCodesLeft: await em.count(RecoveryCode, { userId }) };
    },

    // The compare-and-set on the secret column decides between two enables at once; the codes follow in the same transaction.
    'user.mfa-enable': async (em, { userId, secretSealed, recoveryCodeDigests }) =>
      em.transactional(async (tx) => {
        const set = await tx.nativeUpdate(
          User,
          { id: userId, closedAt: null, $or: [{ totpSecretSealed: null }, { totpSecretSealed: secretSealed }] },
          { totpSecretSealed: secretSealed, totpEnabledAt: new Date(), updatedAt: new Date() } as Partial<User>,
        );
        if (set === 0) return { enabled: false };
        await replaceCodes(tx, userId, recoveryCodeDigests);
        return { enabled: true };
      }),

    'user.mfa-disable': async (em, { userId }) =>
      em.transactional(async (tx) => {
        const cleared = await tx.nativeUpdate(User, { id: userId, totpSecretSealed: { $ne: null } }, { totpSecretSealed: null, totpEnabledAt: null, updatedAt: new Date() } as Partial<User>);
        await tx.nativeDelete(RecoveryCode, { userId });
        return { disabled: cleared > 0 };
      }),

    'user.mfa-recovery-codes': async (em, { userId, recoveryCodeDigests }) =>
      em.transactional(async (tx) => {
        // Locks the row: a disable running at the same time waits, so codes never outlive their factor.
        const user = await tx.findOne(User, { id: userId, totpSecretSealed: { $ne: null } }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!user) return { replaced: false };
        await replaceCodes(tx, userId, recoveryCodeDigests);
        return { replaced: true };
      }),

    // One DELETE: of any number of concurrent requests with the same code, exactly one removes the row.
    'user.mfa-use-recovery-code': async (em, { userId, digest }) => ({ used: (await em.nativeDelete(RecoveryCode, { userId, digest })) === 1 }),

    // Personal data leaves with the row; the address can sign up again.
    'user.erase': async (em, { userId }) => ({ erased: (await em.nativeDelete(User, { id: userId, closedAt: { $ne: null } })) > 0 }),
  };
}
