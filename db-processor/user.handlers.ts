import { randomUUID } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/postgresql';
import { Code, type ReplyErrorCode } from '../common/errors';
import type { AdminActor } from '../common/events/audit';
import { deriveKeys, SealContext, seal, unseal, type Keys } from '../common/crypto';
import type { PasskeySummary, PublicUser, RequestPayload, RequestResult, RequestType } from '../common/kafka/messages';
import { Passkey } from '../entities/passkey.entity';
import { RecoveryCode } from '../entities/recovery-code.entity';
import { User } from '../entities/user.entity';
import { appendAudit, appendEvent, recordChange } from './outbox';

/** A refusal the requester should see as-is (not retried, not dead-lettered). */
export class HandlerError extends Error {
  constructor(readonly code: ReplyErrorCode, message: string) {
    super(message);
  }
}

const toPublic = (u: User): PublicUser => ({ id: u.id, email: u.email, name: u.name, createdAt: u.createdAt.toISOString() });
const toSummary = (p: Passkey): PasskeySummary => ({
  id: p.id,
  credentialId: p.credentialId,
  label: p.label,
  transports: p.transports ? p.transports.split(',') : [],
  createdAt: p.createdAt.toISOString(),
  lastUsedAt: p.lastUsedAt ? p.lastUsedAt.toISOString() : null,
});

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
      const passkeys = (await em.count(Passkey, { userId: user.id })) > 0;
      return { user: { ...toPublic(user), passwordSealed: seal(keys, user.passwordHash, SealContext.passwordHashForUser(user.id)), totp: Boolean(user.totpSecretSealed), passkeys, locked: Boolean(user.lockedAt) } };
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

    'user.mfa-get': async (em, { userId }) => {
      const user = await em.findOne(User, { id: userId, closedAt: null });
      if (!user?.totpSecretSealed) return { totp: null, recoveryCodesLeft: 0 };
      return { totp: { secretSealed: user.totpSecretSealed }, recoveryCodesLeft: await em.count(RecoveryCode, { userId }) };
    },

    // The compare-and-set on the secret column decides between two enables at once; the codes follow in the same transaction.
    'user.mfa-enable': async (em, { userId, secretSealed, recoveryCodeDigests }) =>
      em.transactional(async (tx) => {
        // The row lock decides between two enables at once; a retry of the same enable (same secret)
        // rewrites the same codes and publishes no second event.
        const user = await tx.findOne(User, { id: userId, closedAt: null }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!user || (user.totpSecretSealed !== null && user.totpSecretSealed !== undefined && user.totpSecretSealed !== secretSealed)) return { enabled: false };
        const first = !user.totpSecretSealed;
        if (first) {
          await tx.nativeUpdate(User, { id: userId }, { totpSecretSealed: secretSealed, totpEnabledAt: new Date(), updatedAt: new Date() } as Partial<User>);
        }
        await replaceCodes(tx, userId, recoveryCodeDigests);
        if (first) await recordChange(tx, { type: 'mfa.enabled', userId, data: { method: 'totp' } }, 'user');
        return { enabled: true };
      }),

    'user.mfa-disable': async (em, { userId }) =>
      em.transactional(async (tx) => {
        const cleared = await tx.nativeUpdate(User, { id: userId, totpSecretSealed: { $ne: null } }, { totpSecretSealed: null, totpEnabledAt: null, updatedAt: new Date() } as Partial<User>);
        await tx.nativeDelete(RecoveryCode, { userId });
        if (cleared > 0) await recordChange(tx, { type: 'mfa.disabled', userId, data: { method: 'totp' } }, 'user');
        return { disabled: cleared > 0 };
      }),

    'user.mfa-recovery-codes': async (em, { userId, recoveryCodeDigests }) =>
      em.transactional(async (tx) => {
        // Locks the row: a disable running at the same time waits, so codes never outlive their factor.
        const user = await tx.findOne(User, { id: userId, totpSecretSealed: { $ne: null } }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!user) return { replaced: false };
        await replaceCodes(tx, userId, recoveryCodeDigests);
        await recordChange(tx, { type: 'mfa.recovery_codes_renewed', userId, data: {} }, 'user');
        return { replaced: true };
      }),

    // One DELETE: of any number of concurrent requests with the same code, exactly one removes the row.
    'user.mfa-use-recovery-code': async (em, { userId, digest }) => ({ used: (await em.nativeDelete(RecoveryCode, { userId, digest })) === 1 }),


    'user.admin-view': async (em, { userId }) => {
      const user = await em.findOne(User, { id: userId });
      if (!user) return { user: null };
      const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
      return {
        user: {
          id: user.id,
          email: user.email,
          createdAt: user.createdAt.toISOString(),
          emailVerifiedAt: iso(user.emailVerifiedAt),
          closedAt: iso(user.closedAt),
          lockedAt: iso(user.lockedAt),
          totpEnabledAt: iso(user.totpSecretSealed ? user.totpEnabledAt : null),
          recoveryCodesLeft: user.totpSecretSealed ? await em.count(RecoveryCode, { userId }) : 0,
          passkeys: await em.count(Passkey, { userId }),
        },
      };
    },

    // A compare-and-set on the column: of a lock and a retry of it, one changes the row and writes the event.
    'user.set-lock': async (em, { userId, locked, actor, requestId }) =>
      em.transactional(async (tx) => {
        const changed = locked
          ? await tx.nativeUpdate(User, { id: userId, lockedAt: null }, { lockedAt: new Date(), updatedAt: new Date() } as Partial<User>)
          : await tx.nativeUpdate(User, { id: userId, lockedAt: { $ne: null } }, { lockedAt: null, updatedAt: new Date() } as Partial<User>);
        if (changed > 0) await recordChange(tx, { type: locked ? 'account.locked' : 'account.unlocked', userId, requestId, data: {} }, actor as AdminActor);
        return { found: changed > 0 || (await tx.count(User, { id: userId })) > 0, changed: changed > 0 };
      }),

    'passkey.list': async (em, { userId }) => ({ passkeys: (await em.find(Passkey, { userId }, { orderBy: { createdAt: 'asc' } })).map(toSummary) }),

    'passkey.find': async (em, { credentialId }) => {
      const passkey = await em.findOne(Passkey, { credentialId });
      const user = passkey ? await em.findOne(User, { id: passkey.userId, closedAt: null }) : null;
      if (!passkey || !user) return { passkey: null, user: null };
      return { passkey: { ...toSummary(passkey), userId: passkey.userId, publicKey: passkey.publicKey, counter: passkey.counter }, user: { ...toPublic(user), locked: Boolean(user.lockedAt) } };
    },

    // The unique credential id decides; a retry of the same registration (same row id) is `created` again, with one event.
    'passkey.create': async (em, { id, userId, credentialId, publicKey, counter, transports, label }) => {
      try {
        return await em.transactional(async (tx) => {
          const user = await tx.findOne(User, { id: userId, closedAt: null }, { lockMode: LockMode.PESSIMISTIC_WRITE });
          if (!user) return { passkey: null };
          const now = new Date();
          const passkey = tx.create(Passkey, { id, userId, credentialId, publicKey, counter, transports: transports.join(','), label, createdAt: now, updatedAt: now, lastUsedAt: null });
          await tx.flush();
          await recordChange(tx, { type: 'passkey.registered', userId, data: { passkeyId: id } }, 'user');
          return { passkey: toSummary(passkey) };
        });
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        const existing = await em.fork().findOne(Passkey, { credentialId });
        return { passkey: existing?.id === id && existing.userId === userId ? toSummary(existing) : null };
      }
    },

    // Compare-and-set: of two assertions with the same counter only one moves it; a zero counter
    // (an authenticator without one) stays zero and is always taken.
    'passkey.use': async (em, { id, counter }) => {
      const moved = await em.nativeUpdate(Passkey, counter === 0 ? { id, counter: 0 } : { id, counter: { $lt: counter } }, { counter, lastUsedAt: new Date(), updatedAt: new Date() } as Partial<Passkey>);
      return { used: moved === 1 };
    },

    'passkey.delete': async (em, { userId, id }) =>
      em.transactional(async (tx) => {
        const deleted = await tx.nativeDelete(Passkey, { id, userId });
        if (deleted > 0) await recordChange(tx, { type: 'passkey.removed', userId, data: { passkeyId: id } }, 'user');
        return { deleted: deleted > 0 };
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
