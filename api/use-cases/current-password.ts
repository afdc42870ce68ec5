import bcrypt from 'bcrypt';
import { timeBcrypt } from '../../common/metrics';
import { emailHash, SealContext, unseal, type Keys } from '../../common/crypto';
import { AppError, unavailable } from '../../common/errors';
import { RequestTimeoutError, type KafkaRequester } from '../../common/kafka/request-reply';
import { secondFactorMethods } from '../mfa/mfa.use-case';
import type { RateLimits } from '../security/rate-limits';
import type { SessionProfile } from '../sessions/session.store';
import type { RequestContext } from './context';

/** Account lookups and the current-password check that the signed-in account flows share. */
export function createAccountLookups(deps: { requester: KafkaRequester; keys: Keys; limits: RateLimits }) {
  const { requester, keys, limits } = deps;

  /** The account behind an email, with its password hash opened (DB processor over Kafka). */
  async function findUser(email: string) {
    try {
      const { user } = await requester.request('user.find', { email }, { key: email });
      if (!user) return undefined;
      const { passwordSealed, totp, passkeys, locked, ...profile } = user;
      const methods = secondFactorMethods({ totp: totp === true, passkeys: passkeys === true });
      return { profile: profile as SessionProfile, passwordHash: unseal(keys, passwordSealed, SealContext.passwordHashForUser(user.id)), totp: totp === true, methods, locked: locked === true };
    } catch (err) {
      throw unavailable(err instanceof RequestTimeoutError ? 'kafka' : 'db-processor', err);
    }
  }

  /**
   * The signed-in user proves the password again before a sensitive change. It is checked exactly
   * like a sign-in and draws on the same budgets, so a stolen session cannot guess it faster.
   */
  async function checkCurrentPassword(password: string, auth: { uid: string; profile: SessionProfile }, ctx: RequestContext, event: string): Promise<void> {
    const reservation = await limits.reserveSignin(emailHash(keys, auth.profile.email), ctx.ip);
    let matches = false;
    try {
      const found = await findUser(auth.profile.email);
      matches = found !== undefined && found.profile.id === auth.uid && (await timeBcrypt('compare', () => bcrypt.compare(password, found.passwordHash)));
    } catch (err) {
      await reservation.cancel().catch(() => undefined);
      throw err;
    }
    if (!matches) {
      await reservation.failed();
      ctx.logger.info({ event, userId: auth.uid, ip: ctx.ip }, 'refused: wrong current password');
      throw new AppError('INVALID_CURRENT_PASSWORD');
    }
    await reservation.succeeded();
  }

  return { findUser, checkCurrentPassword };
}
export type AccountLookups = ReturnType<typeof createAccountLookups>;
