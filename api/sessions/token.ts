import jwt from 'jsonwebtoken';

export interface TokenConfig {
  secret: string;
  issuer: string;
  audience: string;
}

export interface TokenClaims {
  sub: string;
  sid: string;
}

/** HS256 JWT naming a server-side session; the session, not the signature, is the authority. */
export function signSessionToken(cfg: TokenConfig, claims: TokenClaims, expiresInSeconds: number): string {
  return jwt.sign({ sid: claims.sid }, cfg.secret, {
    algorithm: 'HS256',
    subject: claims.sub,
    issuer: cfg.issuer,
    audience: cfg.audience,
    expiresIn: expiresInSeconds,
  });
}

/** Returns the claims, or undefined for any token that is not ours, not HS256, or expired. */
export function verifySessionToken(cfg: TokenConfig, token: string): TokenClaims | undefined {
  try {
    const payload = jwt.verify(token, cfg.secret, { algorithms: ['HS256'], issuer: cfg.issuer, audience: cfg.audience });
    if (typeof payload !== 'object' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return undefined;
    return { sub: payload.sub, sid: payload.sid };
  } catch {
    return undefined;
  }
}
