import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Config } from '../common/config';
import { parseKeyRing } from '../common/kafka/keyring';

/**
 * Every payload Temporal stores (workflow input, activity arguments and results, update arguments
 * and results, signals, queries, failures' details) is encrypted before it leaves our processes:
 * AES-256-GCM, the key id in the payload's metadata, the key id bound as additional data. Temporal
 * and anyone who can read its database see ciphertext; an operator with the key decodes through
 * the codec server (`npm run codec-server`).
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const DEV_KEYS = 'dev1:dev-only-temporal-payload-key-change-me-0123456789';

export interface PayloadKeyring {
  current: { id: string; key: Buffer };
  byId: ReadonlyMap<string, Buffer>;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : '');

/**
 * `TEMPORAL_PAYLOAD_KEYS` = "id:secret,id:secret,…" (the keyring format of common/kafka/keyring.ts):
 * the first encrypts, every one decrypts (keep a retired key until no history that used it is kept
 * any more). A development default only when NODE_ENV is development or test; otherwise required,
 * each secret at least 32 characters (common/config.ts refuses to start without it).
 */
export function payloadKeyring(config: Pick<Config, 'NODE_ENV'> & { TEMPORAL_PAYLOAD_KEYS?: string }): PayloadKeyring {
  const devAllowed = config.NODE_ENV === 'development' || config.NODE_ENV === 'test';
  const spec = config.TEMPORAL_PAYLOAD_KEYS || (devAllowed ? DEV_KEYS : '');
  if (!spec) throw new Error('TEMPORAL_PAYLOAD_KEYS is required outside development and test');
  if (!devAllowed && spec === DEV_KEYS) throw new Error('TEMPORAL_PAYLOAD_KEYS: the development key is not allowed here');
  const ring = parseKeyRing('TEMPORAL_PAYLOAD_KEYS', spec, devAllowed ? 1 : 32);
  const derive = (secret: string) => Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), 'cfd-auth/temporal-payload', 32));
  const byId = new Map([...ring.secrets].map(([id, secret]) => [id, derive(secret)]));
  return { current: { id: ring.currentId, key: byId.get(ring.currentId)! }, byId };
}

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keyring: PayloadKeyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keyring.current;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(id, 'utf8'));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id) }, data };
    });
  }

  /** Payloads written before encryption (older histories) pass through unchanged. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const id = text(payload.metadata?.[KEY_ID_METADATA]);
      const key = this.keyring.byId.get(id);
      if (!key) throw new Error(`no payload key with id "${id}"`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted payload too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(id, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/** The data converter of every Temporal client and worker of this project. */
export function dataConverter(config: Parameters<typeof payloadKeyring>[0]): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(payloadKeyring(config))] };
}
