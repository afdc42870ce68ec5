import bcrypt from 'bcrypt';
import { timeBcrypt } from '../../common/metrics';
import { randomBytes } from 'node:crypto';
import { emailHash, SealContext, unseal, type Keys } from '../../common/crypto';
import { AppError, unavailable } from '../../common/errors';
import { RequestTimeoutError, type KafkaRequester } from '../../common/kafka/request-reply';
import { secondFactorMethods } from '../mfa/mfa.use-case';
import type { DeviceCookies } from '../security/device-cookie';
import type { RateLimits } from '../security/rate-limits';
import type { RequestContext } from './context';
import type { SigninNotices } from './signin-notice';
import type { IssuedSession, SessionIssuer } from './sessions.use-case';

export interface SigninDeps {
  requester: KafkaRequester;
  keys: Keys;
  limits: RateLimits;
  issueSession: SessionIssuer;
  devices: DeviceCookies;
  /** Tells the owner about a sign-in from a device without this account's device cookie. */
  notices: SigninNotices;
  /** A bcrypt hash of a random secret at the configured cost: unknown emails cost one compare too. */
  dummyHash: string;
}

export async function makeDummyHash(cost: number): Promise<string> {
  return bcrypt.hash(randomBytes(32).toString('base64'), cost);
}

export function createSigninUseCases(deps: SigninDeps) {
  const { requester, keys, limits, issueSession, devices, notices, dummyHash } = deps;

  return {
    /**
     * `deviceCookie`: the request's device cookie, if any. A valid one for this account makes the
     * attempt count against that device's budget only; a success always answers with a fresh one.
     */
    async signin(input: { email: string; password: string }, ctx: RequestContext, deviceCookie?: string) {
      const emailDigest = emailHash(keys, input.email);
      ctx.audit = { ...ctx.audit, emailHash: emailDigest };
      const deviceId = devices.verify(deviceCookie, emailDigest);
      // The budget is spent before anything secret-dependent runs, so parallel guesses cannot
      // all reach bcrypt between a check and a count.
      const reservation = await limits.reserveSignin(emailDigest, ctx.ip, deviceId);
      let found;
      let matches: boolean;
      try {
        try {
          found = (await requester.request('user.find', { email: input.email }, { key: input.email })).user;
        } catch (err) {
          if (err instanceof RequestTimeoutError) throw unavailable('kafka', err);
          throw unavailable('db-processor', err);
        }
        // Same work whether or not the email exists: one bcrypt compare at the same cost.
        const hash = found ? unseal(keys, found.passwordSealed, SealContext.passwordHashForUser(found.id)) : dummyHash;
        matches = await timeBcrypt('compare', () => bcrypt.compare(input.password, hash));
      } catch (err) {
        await reservation.cancel().catch(() => undefined);
        throw err;
      }
      if (!found || !matches) {
        await reservation.failed();
        ctx.logger.info({ event: 'signin_failed', emailHash: emailDigest, ip: ctx.ip, trustedDevice: deviceId !== undefined }, 'signin failed');
        // The user id only when the email names an account; the email itself never.
        const userId = found?.id ?? null;
        ctx.trail.record(ctx, { action: 'signin.failed', actor: 'anonymous', userId, outcome: 'failure' }, { type: 'signin.failed', userId, data: { reason: 'invalid_credentials' } });
        throw new AppError('INVALID_CREDENTIALS');
      }
      await reservation.succeeded();
      // Only a right password learns of the lock: a wrong one was answered above like any other.
      if (found.locked) {
        ctx.logger.info({ event: 'signin_locked', userId: found.id, ip: ctx.ip }, 'signin refused: account locked');
        ctx.trail.record(ctx, { action: 'signin.locked', actor: 'anonymous', userId: found.id, outcome: 'refused' });
        throw new AppError('ACCOUNT_LOCKED');
      }
      const user = { id: found.id, email: found.email, name: found.name, createdAt: found.createdAt };
      const methods = secondFactorMethods({ totp: found.totp === true, passkeys: found.passkeys === true });
      if (methods.length > 0) {
        // The password is half of it: a partial session that can only finish with the second factor.
        const session = await issueSession(user, ctx, { amr: ['pwd'], origin: 'signin', partial: true });
        ctx.logger.info({ event: 'signin_mfa_required', userId: user.id, ip: ctx.ip, trustedDevice: deviceId !== undefined }, 'password accepted, second factor required');
        return { mfaRequired: true as const, methods, session };
      }
      const session: IssuedSession = await issueSession(user, ctx, { amr: ['pwd'], origin: 'signin' });
      ctx.logger.info({ event: 'signin_succeeded', userId: user.id, ip: ctx.ip, trustedDevice: deviceId !== undefined }, 'signed in');
      if (deviceId === undefined) notices.newDevice(user.email, session.sid, ctx);
      return { mfaRequired: false as const, user, session, deviceCookie: devices.issue(emailDigest) };
    },

    /** A device cookie for an account that just proved itself another way (a verified signup). */
    deviceCookieFor(email: string): string {
      return devices.issue(emailHash(keys, email));
    },
  };
}
export type SigninUseCases = ReturnType<typeof createSigninUseCases>;
