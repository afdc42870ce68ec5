import { createHash, generateKeyPairSync } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../common/config';
import { SealContext, seal, type Keys } from '../../common/crypto';
import { SigningKey } from '../../entities/signing-key.entity';

/**
 * Signing keys are operator-managed infrastructure, like the sealing key: `npm run keys` and the
 * first `npm run migrate` write them with MikroORM directly, not through the DB processor, whose
 * Kafka requests serve users' changes (README "Access tokens: signing keys").
 */

/** When keys publish, sign and retire, from the configuration. */
export interface KeyPolicy {
  /** A new key is published this long before it signs (longer than any consumer caches the JWKS). */
  publishLeadMs: number;
  tokenTtlMs: number;
  clockSkewMs: number;
}

export function keyPolicy(config: Pick<Config, 'SIGNING_KEY_PUBLISH_LEAD_S' | 'ACCESS_TOKEN_TTL_S' | 'ACCESS_TOKEN_CLOCK_SKEW_S'>): KeyPolicy {
  return {
    publishLeadMs: config.SIGNING_KEY_PUBLISH_LEAD_S * 1000,
    tokenTtlMs: config.ACCESS_TOKEN_TTL_S * 1000,
    clockSkewMs: config.ACCESS_TOKEN_CLOCK_SKEW_S * 1000,
  };
}

/** The JWKS `Cache-Control: max-age`: a quarter of the lead, so a cached JWKS always shows a key before it signs. */
export function jwksMaxAgeSeconds(config: Pick<Config, 'SIGNING_KEY_PUBLISH_LEAD_S'>): number {
  return Math.floor(config.SIGNING_KEY_PUBLISH_LEAD_S / 4);
}

/** RFC 7638 thumbprint of a P-256 public key. */
export function thumbprint(jwk: { crv: string; x: string; y: string }): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y })).digest('base64url');
}

/** A fresh P-256 key pair as a row: private half sealed under the sealing key, bound to its kid. */
export function generateSigningKey(keys: Keys, now: Date, activatesAt: Date): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as { crv: string; x: string; y: string };
  const row = new SigningKey();
  row.kid = thumbprint(jwk);
  row.alg = 'ES256';
  row.publicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  row.privateKeySealed = seal(keys, (privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer).toString('base64'), SealContext.signingKey(row.kid));
  row.createdAt = now;
  row.activatesAt = activatesAt;
  row.retiresAt = null;
  return row;
}

export type KeyState = 'pending' | 'signing' | 'retiring' | 'retired';

/** What a key does at `now` among `all` (the newest activated, unretired key signs). */
export function keyState(key: SigningKey, all: readonly SigningKey[], now: Date): KeyState {
  if (key.retiresAt && key.retiresAt <= now) return 'retired';
  if (key.activatesAt > now) return 'pending';
  const newer = all.some((k) => k !== key && k.activatesAt <= now && k.activatesAt > key.activatesAt && !(k.retiresAt && k.retiresAt <= now));
  return newer ? 'retiring' : 'signing';
}

/** Serialises writers of the table (two rotations, or a rotation and a first provisioning). */
async function lockKeys(em: EntityManager): Promise<void> {
  await em.execute('lock table "signing_keys" in share row exclusive mode');
}

/** Keys still published at `now` (pending, signing, retiring), oldest activation first. */
export async function publishedKeys(em: EntityManager, now = new Date()): Promise<SigningKey[]> {
  return em.find(SigningKey, { $or: [{ retiresAt: null }, { retiresAt: { $gt: now } }] }, { orderBy: { activatesAt: 'asc' } });
}

/**
 * The first key, signing at once: run by `npm run migrate` (so `npm start`, `npm test` and the
 * compose `migrate` service provision it). Nothing happens while any key is published.
 */
export async function provisionSigningKey(em: EntityManager, keys: Keys, now = new Date()): Promise<SigningKey | undefined> {
  return em.transactional(async (tx) => {
    await lockKeys(tx);
    if ((await publishedKeys(tx, now)).length > 0) return undefined;
    const key = generateSigningKey(keys, now, now);
    tx.persist(key);
    return key;
  });
}

export class RotationError extends Error {
  override name = 'RotationError';
}

/**
 * Publishes a new key that signs from `now + publishLead`, and retires every older key once the
 * last token it can have signed has expired (new activation + token lifetime + clock skew).
 * Refused while an earlier rotation's key is still pending.
 */
export async function rotateSigningKey(em: EntityManager, keys: Keys, policy: KeyPolicy, now = new Date()): Promise<{ next: SigningKey; retiring: SigningKey[] }> {
  return em.transactional(async (tx) => {
    await lockKeys(tx);
    const published = await publishedKeys(tx, now);
    const pending = published.find((k) => k.activatesAt > now);
    if (pending) throw new RotationError(`key ${pending.kid} is already waiting to sign from ${pending.activatesAt.toISOString()}; rotate again after that`);
    const activatesAt = new Date(now.getTime() + policy.publishLeadMs);
    const next = generateSigningKey(keys, now, activatesAt);
    const retiresAt = new Date(activatesAt.getTime() + policy.tokenTtlMs + policy.clockSkewMs);
    const retiring = published.filter((k) => !k.retiresAt || k.retiresAt > retiresAt);
    for (const k of retiring) k.retiresAt = retiresAt;
    tx.persist(next);
    return { next, retiring };
  });
}

/** Every key, newest first (retired ones too: `npm run keys -- list`). */
export async function allKeys(em: EntityManager): Promise<SigningKey[]> {
  return em.find(SigningKey, {}, { orderBy: { createdAt: 'desc' } });
}
