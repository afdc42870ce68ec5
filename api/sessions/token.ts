import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { buildKeyring, type Keyring } from '../../common/crypto';

export interface TokenConfig {
  /** The current signing key. Made once by tokenConfig(): given a string, jsonwebtoken builds a key object on every call (a quarter of /me's CPU). */
  key: KeyObject;
  /** Its id, written as the JWT `kid` header. */
  keyId: string;
  /** Current and previous keys by id: a token verifies under the key its `kid` names. */
  keys: Keyring<KeyObject>;
  issuer: string;
  audience: string;
}

/**
 * The raw secret stays the HS256 key (tokens signed before key ids existed keep verifying); the
 * id is a fingerprint of the secret. Rotation: the new secret in JWT_SECRET, the old one in
 * JWT_PREVIOUS_SECRETS until the longest session has expired.
 */
export function tokenConfig(config: { JWT_SECRET: string; JWT_PREVIOUS_SECRETS?: readonly string[]; JWT_ISSUER: string; JWT_AUDIENCE: string }): TokenConfig {
  const keys = buildKeyring<KeyObject>(
    'jwt',
    config.JWT_SECRET,
    config.JWT_PREVIOUS_SECRETS ?? [],
    (secret) => createSecretKey(Buffer.from(secret, 'utf8')),
    (secret) => createHash('sha256').update(secret, 'utf8').digest(),
  );
  return { key: keys.current.key, keyId: keys.current.id, keys, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
}

export interface TokenClaims {
  sub: string;
  sid: string;
}

/** HS256 JWT naming a server-side session; the session, not the signature, is the authority. */
export function signSessionToken(cfg: TokenConfig, claims: TokenClaims, expiresInSeconds: number): string {
  return jwt.sign({ sid: claims.sid }, cfg.key, {
    algorithm: 'HS256',
    keyid: cfg.keyId,
    subject: claims.sub,
    issuer: cfg.issuer,
    audience: cfg.audience,
    expiresIn: expiresInSeconds,
  });
}

/**
 * The key a token names: its `kid` from the ring; a token without `kid` (issued before ids) only
 * the current key. Reads the header segment alone: this runs on every `/me`.
 */
function keyFor(cfg: TokenConfig, token: string): KeyObject | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!header || typeof header !== 'object') return undefined;
  const kid = (header as { kid?: unknown }).kid;
  if (kid === undefined) return cfg.key;
  return typeof kid === 'string' ? cfg.keys.byId.get(kid) : undefined;
}

/** Returns the claims, or undefined for any token that is not ours, not HS256, or expired. */
export function verifySessionToken(cfg: TokenConfig, token: string): TokenClaims | undefined {
  try {
    const key = keyFor(cfg, token);
    if (!key) return undefined;
    const payload = jwt.verify(token, key, { algorithms: ['HS256'], issuer: cfg.issuer, audience: cfg.audience });
    if (typeof payload !== 'object' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return undefined;
    return { sub: payload.sub, sid: payload.sid };
  } catch {
    return undefined;
  }
}
