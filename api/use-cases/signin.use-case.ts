import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import { emailHash, SealContext, unseal, type Keys } from '../../common/crypto';
import { AppError, unavailable } from '../../common/errors';
import { RequestTimeoutError, type KafkaRequester } from '../../common/kafka/request-reply';
import type { DeviceCookies } from '../security/device-cookie';
import type { RateLimits } from '../security/rate-limits';
import type { SessionStore } from '../sessions/session.store';
import type { RequestContext } from './context';
import type { IssuedSession, SessionIssuer } from './issue-session';

export interface SigninDeps {
  requester: KafkaRequester;
  keys: Keys;
  limits: RateLimits;
  sessions: SessionStore;
  issueSession: SessionIssuer;
  devices: DeviceCookies;
  /** A bcrypt hash of a random secret at the configured cost: unknown emails cost one compare too. */
  dummyHash: string;
}

export async function makeDummyHash(cost: number): Promise<string> {
  return bcrypt.hash(randomBytes(32).toString('base64'), cost);
}

export function createSigninUseCases(deps: SigninDeps) {
  const { requester, keys, limits, sessions, issueSession, devices, dummyHash } = deps;

  return {
    /**
     * `deviceCookie`: the request's device cookie, if any. A valid one for this account makes the
     * attempt count against that device's budget only; a success always answers with a fresh one.
     */
    async signin(input: { email: string; password: string }, ctx: RequestContext, deviceCookie?: string) {
      const eh = emailHash(keys, input.email);
      const deviceId = devices.verify(deviceCookie, eh);
      // The budget is spent before anything secret-dependent runs, so parallel guesses cannot
      // all reach bcrypt between a check and a count.
      const reservation = await limits.reserveSignin(eh, ctx.ip, deviceId);
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
        matches = await bcrypt.compare(input.password, hash);
      } catch (err) {
        await reservation.cancel().catch(() => undefined);
        throw err;
      }
      if (!found || !matches) {
        await reservation.failed();
        ctx.logger.info({ event: 'signin_failed', emailHash: eh, ip: ctx.ip, trustedDevice: deviceId !== undefined }, 'signin failed');
        throw new AppError('INVALID_CREDENTIALS');
      }
      await reservation.succeeded();
      const user = { id: found.id, email: found.email, name: found.name, createdAt: found.createdAt };
      const session: IssuedSession = await issueSession(user, ctx);
      ctx.logger.info({ event: 'signin_succeeded', userId: user.id, ip: ctx.ip, trustedDevice: deviceId !== undefined }, 'signed in');
      return { user, session, deviceCookie: devices.issue(eh) };
    },

    /** A device cookie for an account that just proved itself another way (a verified signup). */
    deviceCookieFor(email: string): string {
      return devices.issue(emailHash(keys, email));
    },

    async logout(auth: { uid: string; sid: string } | undefined, ctx: RequestContext) {
      if (!auth) return;
      await sessions.revoke(auth.uid, auth.sid);
      ctx.logger.info({ event: 'logout', userId: auth.uid, ip: ctx.ip }, 'logged out');
    },

    async listSessions(auth: { uid: string; sid: string }) {
      const list = await sessions.list(auth.uid);
      return list.map((s) => ({ ...s, current: s.id === auth.sid }));
    },

    async revokeSession(auth: { uid: string; sid: string }, sid: string, ctx: RequestContext) {
      if (!(await sessions.revoke(auth.uid, sid))) throw new AppError('SESSION_NOT_FOUND');
      ctx.logger.info({ event: 'session_revoked', userId: auth.uid, ip: ctx.ip, current: sid === auth.sid }, 'session revoked');
    },

    async logoutAll(auth: { uid: string; sid: string }, ctx: RequestContext) {
      const count = await sessions.revokeAll(auth.uid);
      ctx.logger.info({ event: 'logout_all', userId: auth.uid, ip: ctx.ip, count }, 'all sessions revoked');
    },
  };
}
export type SigninUseCases = ReturnType<typeof createSigninUseCases>;
