import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { buildKeyring, type Keyring } from '../../common/crypto';

export interface TokenConfig {
  /** The current signing key. Made once by tokenConfig(): given a string, jsonwebtoken builds a key object on every call (a quarter of /me's CPU). */
  key: KeyObject;
  /** Its id, written as the JWT `kid` header. */
  keyId: string;
  /** Current and previous keys by id: a token verifies under the key its `kid` names. */
  keys: Keyring<KeyObject>;
  /** The keys by the header segment of the tokens they sign (keysByHeader). */
  byHeader: ReadonlyMap<string, KeyObject>;
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
  return { key: keys.current.key, keyId: keys.current.id, keys, byHeader: keysByHeader(keys), issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
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
 * The keys by the exact header segment of the tokens they sign. jsonwebtoken writes the header as
 * `{"alg":"HS256","typ":"JWT","kid":…}` (members in that order), so every token of ours carries one
 * of these segments; a token from before key ids (`{"alg":"HS256","typ":"JWT"}`) names the current
 * key. Anything else (another algorithm, a kid not in the ring, a header re-serialised) is not ours:
 * no JSON is parsed before the signature is checked, and `alg` is never read from the token.
 */
function keysByHeader(keys: Keyring<KeyObject>): ReadonlyMap<string, KeyObject> {
  const segment = (header: object) => Buffer.from(JSON.stringify(header), 'utf8').toString('base64url');
  const map = new Map<string, KeyObject>([[segment({ alg: 'HS256', typ: 'JWT' }), keys.current.key]]);
  for (const [kid, key] of keys.byId) map.set(segment({ alg: 'HS256', typ: 'JWT', kid }), key);
  return map;
}

/**
 * Returns the claims, or undefined for any token that is not ours, not HS256, or expired. Runs on
 * every authenticated request (/me): the header is looked up, the HMAC compared in constant time on
 * its canonical base64url form, and only then is the payload parsed. Checks what jsonwebtoken's
 * verify checked for our tokens (issuer, audience, exp, nbf, iat a number) and requires `exp`, which
 * every token we sign has.
 */
export function verifySessionToken(cfg: TokenConfig, token: string): TokenClaims | undefined {
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  if (dot1 <= 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) !== -1) return undefined;
  const key = cfg.byHeader.get(token.slice(0, dot1));
  if (!key) return undefined;
  const expected = Buffer.from(createHmac('sha256', key).update(token.slice(0, dot2), 'utf8').digest('base64url'), 'utf8');
  const given = Buffer.from(token.slice(dot2 + 1), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let payload: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token.slice(dot1 + 1, dot2), 'base64url').toString('utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    payload = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const now = Math.floor(Date.now() / 1000);
  const { sub, sid, iss, aud, exp, nbf, iat } = payload;
  if (typeof exp !== 'number' || now >= exp) return undefined;
  if (nbf !== undefined && (typeof nbf !== 'number' || now < nbf)) return undefined;
  if (iat !== undefined && typeof iat !== 'number') return undefined;
  if (iss !== cfg.issuer) return undefined;
  if (!(aud === cfg.audience || (Array.isArray(aud) && aud.includes(cfg.audience)))) return undefined;
  if (typeof sub !== 'string' || typeof sid !== 'string') return undefined;
  return { sub, sid };
}
