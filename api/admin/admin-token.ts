import { createPublicKey, randomUUID, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../../common/config';
import { ADMIN_NAME, AdminActor, type AdminActor as AdminActorType } from '../../common/events/audit';
import { AppError } from '../../common/errors';
import { signAccessJwt } from '../tokens/access-token';
import type { PublicJwk, SigningKeyCache } from '../tokens/key-cache';

/**
 * Operators' tokens for the admin API: ES256 JWTs signed by the access tokens' signing keys, for an
 * audience no service of the broker takes (`cfd-admin`), with `role: admin` and `sub` =
 * `admin:<name>`. A user's access token (another audience, no role) is signed by the same keys and
 * verifies here too: it is then refused 403, never taken for an operator's.
 */
export const ADMIN_AUDIENCE = 'cfd-admin';
export const ADMIN_ROLE = 'admin';

/** The operator behind an admin call, as the audit trail names them. */
export interface AdminCaller {
  actor: AdminActorType;
  /** The token's `jti`, on the call's log line. */
  tokenId: string;
}

export function isAdminName(name: string): boolean {
  return ADMIN_NAME.test(name);
}

/** A token for operator `name`, valid ADMIN_TOKEN_TTL_S from `now` (ms). */
export function mintAdminToken(config: Pick<Config, 'JWT_ISSUER' | 'ADMIN_TOKEN_TTL_S'>, key: { kid: string; privateKey: KeyObject }, name: string, now = Date.now()) {
  if (!isAdminName(name)) throw new Error(`an admin name is 1 to 64 of a-z 0-9 . _ - (got ${JSON.stringify(name)})`);
  const iat = Math.floor(now / 1000);
  const claims = { iss: config.JWT_ISSUER, sub: `admin:${name}`, aud: ADMIN_AUDIENCE, role: ADMIN_ROLE, iat, exp: iat + config.ADMIN_TOKEN_TTL_S, jti: randomUUID() };
  return { token: signAccessJwt(key, claims), jti: claims.jti, expiresAt: new Date(claims.exp * 1000) };
}

const Header = z.object({ alg: z.literal('ES256'), kid: z.string().min(1).max(128) });
/** What any of our signed tokens carries; expiry and issuer decide 401, audience and role 403. */
const Claims = z.object({ iss: z.string(), exp: z.number(), iat: z.number(), sub: z.unknown().optional(), aud: z.unknown().optional(), role: z.unknown().optional(), jti: z.unknown().optional() });

function decodePart(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * 401 UNAUTHENTICATED: no token, or not one of ours (malformed, not ES256, unknown or retired key,
 * bad signature, other issuer, expired). 403 FORBIDDEN: ours and valid, but not an admin token.
 */
export function createAdminTokenVerifier(deps: { config: Pick<Config, 'JWT_ISSUER' | 'ACCESS_TOKEN_CLOCK_SKEW_S'>; signingKeys: Pick<SigningKeyCache, 'published'> }) {
  const { config, signingKeys } = deps;
  const skew = config.ACCESS_TOKEN_CLOCK_SKEW_S;
  const publicKeys = new Map<string, KeyObject>();
  const publicKey = (jwk: PublicJwk): KeyObject => {
    let key = publicKeys.get(jwk.kid);
    if (!key) {
      key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
      publicKeys.set(jwk.kid, key);
    }
    return key;
  };
  const unauthenticated = () => new AppError('UNAUTHENTICATED', 'A valid admin bearer token is required.', {}, { cause: 'invalid_token' });

  return (token: string, now = Date.now()): AdminCaller => {
    const parts = token.split('.');
    if (parts.length !== 3 || token.length > 4096) throw unauthenticated();
    const header = Header.safeParse(decodePart(parts[0]!));
    if (!header.success) throw unauthenticated();
    const jwk = signingKeys.published(now).find((k) => k.kid === header.data.kid);
    if (!jwk) throw unauthenticated();
    const signature = Buffer.from(parts[2]!, 'base64url');
    if (!verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), { key: publicKey(jwk), dsaEncoding: 'ieee-p1363' }, signature)) throw unauthenticated();
    const claims = Claims.safeParse(decodePart(parts[1]!));
    const nowS = now / 1000;
    if (!claims.success || claims.data.iss !== config.JWT_ISSUER || claims.data.exp + skew <= nowS || claims.data.iat - skew > nowS) throw unauthenticated();
    const { aud, role, sub, jti } = claims.data;
    const actor = AdminActor.safeParse(sub);
    if (aud !== ADMIN_AUDIENCE || role !== ADMIN_ROLE || !actor.success) throw new AppError('FORBIDDEN');
    return { actor: actor.data as AdminActorType, tokenId: typeof jti === 'string' ? jti : '' };
  };
}
export type AdminTokenVerifier = ReturnType<typeof createAdminTokenVerifier>;
