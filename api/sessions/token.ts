import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface TokenConfig {
  /** Made once by tokenConfig(): given a string, jsonwebtoken builds a key object on every call (a quarter of /me's CPU). */
  key: KeyObject;
  issuer: string;
  audience: string;
}

export function tokenConfig(config: { JWT_SECRET: string; JWT_ISSUER: string; JWT_AUDIENCE: string }): TokenConfig {
  return { key: createSecretKey(Buffer.from(config.JWT_SECRET, 'utf8')), issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
}

export interface TokenClaims {
  sub: string;
  sid: string;
}

/** HS256 JWT naming a server-side session; the session, not the signature, is the authority. */
export function signSessionToken(cfg: TokenConfig, claims: TokenClaims, expiresInSeconds: number): string {
  return jwt.sign({ sid: claims.sid }, cfg.key, {
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
    const payload = jwt.verify(token, cfg.key, { algorithms: ['HS256'], issuer: cfg.issuer, audience: cfg.audience });
    if (typeof payload !== 'object' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return undefined;
    return { sub: payload.sub, sid: payload.sid };
  } catch {
    return undefined;
  }
}
