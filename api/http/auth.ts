import type { Request } from 'express';
import type { SessionAuth, SessionStore } from '../sessions/session.store';
import { verifySessionToken, type TokenConfig } from '../sessions/token';

export interface AuthDeps {
  sessions: SessionStore;
  tokens: TokenConfig;
  /** Name of the session cookie (see cookieNames in ./cookies). */
  sessionCookie: string;
}

/** Who a request is: the session behind its token. */
export interface Auth {
  uid: string;
  sid: string;
  profile: { id: string; email: string; name: string; createdAt: string };
  /** How and when the session was authenticated; `partial` sessions only finish a sign-in. */
  session: SessionAuth;
}

function tokenOf(req: Request, cookieName: string): string | undefined {
  const cookie = (req.cookies as Record<string, string> | undefined)?.[cookieName];
  if (cookie) return cookie;
  const header = req.get('authorization');
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/**
 * The session behind the request's token (cookie, or `Authorization: Bearer`), if the token is ours
 * and the session still exists in Redis; undefined otherwise. Redis down throws UNAVAILABLE.
 */
export async function authenticate(req: Request, deps: AuthDeps): Promise<Auth | undefined> {
  const token = tokenOf(req, deps.sessionCookie);
  if (!token || token.length > 4096) return undefined;
  const claims = verifySessionToken(deps.tokens, token);
  if (!claims) return undefined;
  const session = await deps.sessions.load(claims.sid);
  if (!session || session.uid !== claims.sub) return undefined;
  return { uid: session.uid, sid: claims.sid, profile: session.profile, session: session.auth };
}
