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
    /**
     * The one place a session starts (signin, verify, password reset, email change, second step).
     * `amr`: the methods the user just proved (RFC 8176; recorded for access tokens and step-up).
     * A `partial` session (password right, second factor owed) lives MFA_PARTIAL_TTL_S, can only
     * finish the sign-in, and is no `session.created` event: the full session that replaces it is.
     */
    async issue(profile: SessionProfile, ctx: RequestContext, opts: { amr: readonly AuthMethod[]; origin: z.infer<typeof SessionOrigin>; partial?: boolean }): Promise<IssuedSession> {
      const ttlS = opts.partial ? Math.min(config.MFA_PARTIAL_TTL_S, config.SESSION_ABSOLUTE_TTL_S) : config.SESSION_ABSOLUTE_TTL_S;
      const { sid } = await sessions.create(profile, { userAgent: ctx.userAgent, ip: ctx.ip }, { amr: opts.amr, partial: opts.partial, absoluteMs: ttlS * 1000 });
      if (!opts.partial) ctx.trail.record(ctx, { action: 'session.created', actor: 'user', userId: profile.id, outcome: 'success' }, { type: 'session.created', userId: profile.id, data: { origin: opts.origin } });
      const token = signSessionToken(tokens, { sub: profile.id, sid }, ttlS);
      return { sid, token, maxAgeMs: ttlS * 1000 };
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
