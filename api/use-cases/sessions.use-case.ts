import type { Config } from '../../common/config';
import { AppError } from '../../common/errors';
import type { SessionProfile, SessionStore } from '../sessions/session.store';
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
     * The one place a session starts (signin, verify, reset, second step). `amr`: the methods the
     * user just proved (default a password). A `partial` session (password right, second factor
     * owed) lives MFA_PARTIAL_TTL_S and can only finish the sign-in.
     */
    async issue(profile: SessionProfile, ctx: RequestContext, opts: { amr?: string[]; partial?: boolean } = {}): Promise<IssuedSession> {
      const ttlS = opts.partial ? Math.min(config.MFA_PARTIAL_TTL_S, config.SESSION_ABSOLUTE_TTL_S) : config.SESSION_ABSOLUTE_TTL_S;
      const { sid } = await sessions.create(profile, { userAgent: ctx.userAgent, ip: ctx.ip }, { amr: opts.amr, partial: opts.partial, absoluteMs: ttlS * 1000 });
      const token = signSessionToken(tokens, { sub: profile.id, sid }, ttlS);
      return { sid, token, maxAgeMs: ttlS * 1000 };
    },

    /** Ends the caller's session, when there is one (logout is idempotent). */
    async logout(owner: SessionOwner | undefined, ctx: RequestContext): Promise<void> {
      if (!owner) return;
      await sessions.revoke(owner.uid, owner.sid);
      ctx.logger.info({ event: 'logout', userId: owner.uid, ip: ctx.ip }, 'logged out');
    },

    async list(owner: SessionOwner) {
      const list = await sessions.list(owner.uid);
      return list.map((s) => ({ ...s, current: s.id === owner.sid }));
    },

    /** Ends one of the caller's own sessions; SESSION_NOT_FOUND for another user's or an unknown one. */
    async revoke(owner: SessionOwner, sid: string, ctx: RequestContext): Promise<void> {
      if (!(await sessions.revoke(owner.uid, sid))) throw new AppError('SESSION_NOT_FOUND');
      ctx.logger.info({ event: 'session_revoked', userId: owner.uid, ip: ctx.ip, current: sid === owner.sid }, 'session revoked');
    },

    async logoutEverywhere(owner: SessionOwner, ctx: RequestContext): Promise<void> {
      const count = await sessions.revokeAll(owner.uid);
      ctx.logger.info({ event: 'logout_all', userId: owner.uid, ip: ctx.ip, count }, 'all sessions revoked');
    },
  };
}
export type SessionUseCases = ReturnType<typeof createSessionUseCases>;
export type SessionIssuer = SessionUseCases['issue'];
