import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import { emailHash, SealContext, unseal, type Keys } from '../../common/crypto';
import { AppError, unavailable } from '../../common/errors';
import { RequestTimeoutError, type KafkaRequester } from '../../common/kafka/request-reply';
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
  /** A bcrypt hash of a random secret at the configured cost: unknown emails cost one compare too. */
  dummyHash: string;
}

export async function makeDummyHash(cost: number): Promise<string> {
  return bcrypt.hash(randomBytes(32).toString('base64'), cost);
}

export function createSigninUseCases(deps: SigninDeps) {
  const { requester, keys, limits, sessions, issueSession, dummyHash } = deps;

  return {
    async signin(input: { email: string; password: string }, ctx: RequestContext) {
      const eh = emailHash(keys, input.email);
      await limits.checkSignin(eh, ctx.ip);
      let found;
      try {
        found = (await requester.request('user.find', { email: input.email }, { key: input.email })).user;
      } catch (err) {
        if (err instanceof RequestTimeoutError) throw unavailable('kafka', err);
        throw unavailable('db-processor', err);
      }
      // Same work whether or not the email exists: one bcrypt compare at the same cost.
      const hash = found ? unseal(keys, found.passwordSealed, SealContext.passwordHashForUser(found.id)) : dummyHash;
      const matches = await bcrypt.compare(input.password, hash);
      if (!found || !matches) {
        await limits.signinFailed(eh, ctx.ip);
        ctx.logger.info({ event: 'signin_failed', emailHash: eh, ip: ctx.ip }, 'signin failed');
        throw new AppError('INVALID_CREDENTIALS');
      }
      await limits.signinSucceeded(eh, ctx.ip);
      const user = { id: found.id, email: found.email, name: found.name, createdAt: found.createdAt };
      const session: IssuedSession = await issueSession(user, ctx);
      ctx.logger.info({ event: 'signin_succeeded', userId: user.id, ip: ctx.ip }, 'signed in');
      return { user, session };
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
