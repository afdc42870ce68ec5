import type { Config } from '../../common/config';
import type { z } from 'zod';
import type { SessionOrigin } from '../../common/events/auth-events';
import { AppError } from '../../common/errors';
import type { AuthMethod, SessionProfile, SessionStore } from '../sessions/session.store';
import { signSessionToken, tokenConfig } from '../sessions/token';
import type { RequestContext } from './context';

export interface IssuedSession {
  /** The session's id (inside the token too); never sent to the client on its own. */
  sid: string;
  token: string;
  maxAgeMs: number;
}

/** The signed-in caller of a session route. */
export interface SessionOwner {
  uid: string;
  sid: string;
}

/**
 * The story of a session: it starts at sign-in or verification (a new id every time), is listed,
 * and ends by logout, by revocation of one session, or by logout everywhere.
 */
export function createSessionUseCases(deps: { sessions: SessionStore; config: Config }) {
  const { sessions, config } = deps;
  const tokens = tokenConfig(config);
  return {
    /** The one place a session starts (signin, verify, password reset, email change). */
    async issue(profile: SessionProfile, ctx: RequestContext, amr: readonly AuthMethod[], origin: z.infer<typeof SessionOrigin>): Promise<IssuedSession> {
      const { sid } = await sessions.create(profile, { userAgent: ctx.userAgent, ip: ctx.ip, amr });
      ctx.trail.record(ctx, { action: 'session.created', actor: 'user', userId: profile.id, outcome: 'success' }, { type: 'session.created', userId: profile.id, data: { origin } });
      const token = signSessionToken(tokens, { sub: profile.id, sid }, config.SESSION_ABSOLUTE_TTL_S);
      return { sid, token, maxAgeMs: config.SESSION_ABSOLUTE_TTL_S * 1000 };
    },

    /** Ends the caller's session, when there is one (logout is idempotent). */
    async logout(owner: SessionOwner | undefined, ctx: RequestContext): Promise<void> {
      if (!owner) return;
      const ended = await sessions.revoke(owner.uid, owner.sid);
      ctx.logger.info({ event: 'logout', userId: owner.uid, ip: ctx.ip }, 'logged out');
      if (ended) ctx.trail.record(ctx, { action: 'session.revoked', actor: 'user', userId: owner.uid, outcome: 'success' }, { type: 'session.revoked', userId: owner.uid, data: { reason: 'logout', count: 1 } });
    },

    async list(owner: SessionOwner) {
      const list = await sessions.list(owner.uid);
      return list.map((s) => ({ ...s, current: s.id === owner.sid }));
    },

    /** Ends one of the caller's own sessions; SESSION_NOT_FOUND for another user's or an unknown one. */
    async revoke(owner: SessionOwner, sid: string, ctx: RequestContext): Promise<void> {
      if (!(await sessions.revoke(owner.uid, sid))) throw new AppError('SESSION_NOT_FOUND');
      ctx.logger.info({ event: 'session_revoked', userId: owner.uid, ip: ctx.ip, current: sid === owner.sid }, 'session revoked');
      ctx.trail.record(ctx, { action: 'session.revoked', actor: 'user', userId: owner.uid, outcome: 'success' }, { type: 'session.revoked', userId: owner.uid, data: { reason: 'revoked', count: 1 } });
    },

    async logoutEverywhere(owner: SessionOwner, ctx: RequestContext): Promise<void> {
      const count = await sessions.revokeAll(owner.uid);
      ctx.logger.info({ event: 'logout_all', userId: owner.uid, ip: ctx.ip, count }, 'all sessions revoked');
      ctx.trail.record(ctx, { action: 'session.revoked', actor: 'user', userId: owner.uid, outcome: 'success' }, { type: 'session.revoked', userId: owner.uid, data: { reason: 'logout_all', count } });
    },
  };
}
export type SessionUseCases = ReturnType<typeof createSessionUseCases>;
export type SessionIssuer = SessionUseCases['issue'];
