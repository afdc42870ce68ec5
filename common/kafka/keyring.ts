/**
 * A keyring written as `id:secret[,id:secret...]`: the first key signs or encrypts, every listed key
 * is accepted when verifying or decrypting. Rotation: put the new key first, keep the old one second
 * until every message made with it is past the freshness window, then drop it.
 */
export interface KeyRingSpec {
  currentId: string;
  secrets: ReadonlyMap<string, string>;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export class KeyRingError extends Error {
  override name = 'KeyRingError';
}

/** Parses a keyring; `minSecretLength` is enforced in production (secrets are never echoed in errors). */
export function parseKeyRing(name: string, spec: string, minSecretLength = 1): KeyRingSpec {
  const secrets = new Map<string, string>();
  const entries = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new KeyRingError(`${name} lists no key`);
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const secret = colon > 0 ? entry.slice(colon + 1) : '';
    if (!KEY_ID.test(id)) throw new KeyRingError(`${name}: every entry must be id:secret with an id of 1-32 [A-Za-z0-9_-]`);
    if (secrets.has(id)) throw new KeyRingError(`${name}: key id ${id} appears twice`);
    if (secret.length < minSecretLength || new Set(secret).size < Math.min(10, minSecretLength)) {
      throw new KeyRingError(`${name}: key ${id} is too weak (use at least ${minSecretLength} random characters)`);
    }
    secrets.set(id, secret);
  }
  return { currentId: entries[0].slice(0, entries[0].indexOf(':')), secrets };
}
