import type { Config } from '../../common/config';
import type { SessionStore, SessionProfile } from '../sessions/session.store';
import { signSessionToken, tokenConfig } from '../sessions/token';
import type { RequestContext } from './context';

export interface IssuedSession {
  token: string;
  maxAgeMs: number;
}

/** The one place a session starts: a new id every time (signin and verify). */
export function createSessionIssuer(deps: { sessions: SessionStore; config: Config }) {
  const { sessions, config } = deps;
  const tokens = tokenConfig(config);
  return async (profile: SessionProfile, ctx: RequestContext): Promise<IssuedSession> => {
    const { sid } = await sessions.create(profile, { userAgent: ctx.userAgent, ip: ctx.ip });
    const token = signSessionToken(
      tokens,
      { sub: profile.id, sid },
      config.SESSION_ABSOLUTE_TTL_S,
    );
    return { token, maxAgeMs: config.SESSION_ABSOLUTE_TTL_S * 1000 };
  };
}
export type SessionIssuer = ReturnType<typeof createSessionIssuer>;
