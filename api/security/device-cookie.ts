import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { buildKeyring, type Keyring } from '../../common/crypto';

/**
 * OWASP's device cookie (Slow Down Online Guessing Attacks with Device Cookies): after a successful
 * sign-in the browser gets a cookie that proves "this device signed in to this account before".
 * Sign-ins that present one are limited by that device's own failures only, so someone who knows
 * just the email cannot lock its owner out by failing from elsewhere.
 *
 * Value: `d1.<key id>.<device id>.<mac>`, mac = HMAC-SHA-256(key, "d1.<device id>.<account hash>")
 * where the account hash is the keyed email hash. The cookie does not say which account it is for;
 * only a sign-in for that account can check it.
 */
export const DEVICE_COOKIE_VERSION = 'd1';

export interface DeviceCookies {
  /** A fresh device id bound to the account; the value to put in the cookie. */
  issue(accountKey: string): string;
  /** The device id when the cookie is ours, unaltered, under a known key, and bound to this account. */
  verify(value: string | undefined, accountKey: string): string | undefined;
}

const DEVICE_ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * Keys come from the session-signing secrets (JWT_SECRET and JWT_PREVIOUS_SECRETS, under their own
 * HKDF label), so rotating those rotates this too and device cookies under the previous key stay
 * valid until it is dropped.
 */
export function createDeviceCookies(secrets: { JWT_SECRET: string; JWT_PREVIOUS_SECRETS?: readonly string[] }): DeviceCookies {
  const ring: Keyring = buildKeyring('device-cookie', secrets.JWT_SECRET, secrets.JWT_PREVIOUS_SECRETS ?? []);
  const mac = (key: Buffer, deviceId: string, accountKey: string) =>
    createHmac('sha256', key).update(`${DEVICE_COOKIE_VERSION}.${deviceId}.${accountKey}`, 'utf8').digest();
  return {
    issue(accountKey) {
      const deviceId = randomBytes(16).toString('base64url');
      const { id, key } = ring.current;
      return [DEVICE_COOKIE_VERSION, id, deviceId, mac(key, deviceId, accountKey).toString('base64url')].join('.');
    },
    verify(value, accountKey) {
      if (!value || value.length > 200) return undefined;
      const parts = value.split('.');
      if (parts.length !== 4 || parts[0] !== DEVICE_COOKIE_VERSION || !DEVICE_ID.test(parts[2])) return undefined;
      const key = ring.byId.get(parts[1]);
      if (!key) return undefined;
      const given = Buffer.from(parts[3], 'base64url');
      const expected = mac(key, parts[2], accountKey);
      return given.length === expected.length && timingSafeEqual(given, expected) ? parts[2] : undefined;
    },
  };
}

/** A device id as a rate-limit key: hashed, so Redis keys do not hold the cookie's secret part. */
export function deviceLimitKey(deviceId: string): string {
  return createHash('sha256').update(deviceId, 'utf8').digest('base64url').slice(0, 32);
}
