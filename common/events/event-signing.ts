import { createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import type { IHeaders } from 'kafkajs';
import { parseKeyRing } from '../kafka/keyring';

/**
 * Authenticity of auth events for services outside this subsystem. The internal Kafka MACs use
 * symmetric keys (whoever verifies could forge), so events are signed with Ed25519 instead: the
 * DB processor holds the private keys (`KAFKA_EVENT_SIGNING_KEYS`, `id:<32-byte seed, base64url>`,
 * first one signs), consumers hold only the public keys (`npm run events -- public-keys`, a JWKS).
 * Headers: `x-event-id`, `x-sig-kid`, `x-sig`, the signature over the topic, key and value
 * (length-prefixed), so an event cannot be moved to another topic or key.
 */
export const EVENT_HEADERS = { eventId: 'x-event-id', kid: 'x-sig-kid', sig: 'x-sig' } as const;

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const privateFromSeed = (seed: Buffer): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });

/** The data a signature covers. */
export function signedBytes(topic: string, key: Buffer | string | null, value: Buffer | string): Buffer {
  const parts = ['cfd-auth/event-sig/v1', topic, key ?? '', value].map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8')));
  return Buffer.concat(parts.flatMap((b) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return [len, b];
  }));
}

export interface EventPublicKey {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export class EventSigner {
  private readonly keys: ReadonlyMap<string, KeyObject>;
  private readonly currentId: string;

  /** `spec`: `id:<seed>[,id:<seed>...]`, each seed 32 random bytes in base64url. */
  constructor(spec: string) {
    const ring = parseKeyRing('KAFKA_EVENT_SIGNING_KEYS', spec);
    const keys = new Map<string, KeyObject>();
    for (const [id, seed] of ring.secrets) {
      const bytes = Buffer.from(seed, 'base64url');
      if (bytes.length !== 32) throw new Error(`KAFKA_EVENT_SIGNING_KEYS: key ${id} must be 32 bytes in base64url`);
      keys.set(id, privateFromSeed(bytes));
    }
    this.keys = keys;
    this.currentId = ring.currentId;
  }

  /** Configured keys, or (development and test only) one derived from the development HMAC key. */
  static fromConfig(config: { KAFKA_EVENT_SIGNING_KEYS?: string; HMAC_KEY: string; devSecretsAllowed: boolean }): EventSigner {
    if (!config.KAFKA_EVENT_SIGNING_KEYS && !config.devSecretsAllowed) throw new Error('KAFKA_EVENT_SIGNING_KEYS is required outside development and test');
    return new EventSigner(config.KAFKA_EVENT_SIGNING_KEYS || `dev:${Buffer.from(hkdfSync('sha256', config.HMAC_KEY, Buffer.alloc(0), 'cfd-auth/events/dev-signing-seed', 32)).toString('base64url')}`);
  }

  sign(topic: string, key: string, value: string, eventId: string): Record<string, string> {
    const sig = sign(null, signedBytes(topic, key, value), this.keys.get(this.currentId)!);
    return { [EVENT_HEADERS.eventId]: eventId, [EVENT_HEADERS.kid]: this.currentId, [EVENT_HEADERS.sig]: sig.toString('base64url') };
  }

  /** Every key's public half as a JWK: what consumers are given (the order is the ring's). */
  publicKeys(): EventPublicKey[] {
    return [...this.keys].map(([kid, k]) => {
      const jwk = createPublicKey(k).export({ format: 'jwk' }) as { x: string };
      return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' };
    });
  }
}

const header = (headers: IHeaders | undefined, name: string): string | undefined => {
  const v = headers?.[name];
  const one = Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
  return one === undefined || one === null ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

/**
 * What a consuming service runs on each message of auth.events.v1 before trusting it: true only
 * when the signature verifies under the public key its `x-sig-kid` names. Copy it, or import it.
 */
export function verifyAuthEventMessage(
  topic: string,
  message: { key: Buffer | null; value: Buffer | null; headers?: IHeaders },
  publicKeys: readonly EventPublicKey[],
): boolean {
  const kid = header(message.headers, EVENT_HEADERS.kid);
  const sig = header(message.headers, EVENT_HEADERS.sig);
  const jwk = publicKeys.find((k) => k.kid === kid);
  if (!jwk || !sig || !message.value) return false;
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  return verify(null, signedBytes(topic, message.key, message.value), key, Buffer.from(sig, 'base64url'));
}
