import { createHmac, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { Config } from '../../common/config';
import type { Keys } from '../../common/crypto';
import { AppError } from '../../common/errors';
import type { Auth } from '../http/auth';
import type { RequestContext } from '../use-cases/context';
import type { SigningKeyCache } from './key-cache';

export interface AccessTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/**
 * The `sid` other services see: a keyed digest of the session id, stable for the session (they
 * can group a session's tokens) but never the id itself, which with the session secret would be
 * the session.
 */
export function publicSessionId(keys: Keys, sid: string): string {
  return createHmac('sha256', keys.emailId).update(`public-sid:${sid}`).digest('base64url').slice(0, 32);
}

const b64json = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** An ES256 JWT (`typ: at+jwt`) of `claims`, signed by the signing key that signs now. */
export function signAccessJwt(key: { kid: string; privateKey: KeyObject }, claims: object): string {
  const input = `${b64json({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })}.${b64json(claims)}`;
  const signature = sign('sha256', Buffer.from(input, 'ascii'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * Access tokens for the broker's other services: an ES256 JWT for one configured audience, minted
 * for a live session (the route authenticates it against Redis first, so a revoked session gets
 * none). Claims carry the user id and how and when the session authenticated, nothing personal.
 */
export function createAccessTokens(deps: { config: Config; keys: Keys; signingKeys: SigningKeyCache }) {
  const { config, keys, signingKeys } = deps;
  const audiences = new Set(config.ACCESS_TOKEN_AUDIENCES);
  return {
    mint(auth: Auth, audience: string, ctx: RequestContext): AccessTokenResponse {
      if (!audiences.has(audience)) throw new AppError('UNKNOWN_AUDIENCE');
      const key = signingKeys.signingKey();
      const iat = Math.floor(Date.now() / 1000);
      const claims = {
        iss: config.JWT_ISSUER,
        sub: auth.uid,
        aud: audience,
        iat,
        exp: iat + config.ACCESS_TOKEN_TTL_S,
        jti: randomUUID(),
        sid: publicSessionId(keys, auth.sid),
        amr: auth.session.amr,
        auth_time: Math.floor(auth.session.authTime / 1000),
        // Accounts exist only once their address answered a code (signup, and every email change).
        email_verified: true,
      };
      const token = signAccessJwt(key, claims);
      ctx.logger.info({ event: 'access_token_issued', userId: auth.uid, audience, kid: key.kid, jti: claims.jti }, 'access token issued');
      return { access_token: token, token_type: 'Bearer', expires_in: config.ACCESS_TOKEN_TTL_S };
    },
  };
}
export type AccessTokens = ReturnType<typeof createAccessTokens>;
