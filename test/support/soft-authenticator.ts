import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * A software WebAuthn authenticator for tests: the client side of a passkey ceremony, built from
 * the spec with node:crypto. It makes ES256 (P-256) credentials, answers creation options with a
 * `none` attestation and request options with a signed assertion, exactly as a browser hands them
 * to the server (RegistrationResponseJSON / AuthenticationResponseJSON, base64url fields). It is a
 * test client, like the browser's: the server's verification is what the tests exercise.
 */

// ---- CBOR (RFC 8949), the subset WebAuthn needs: unsigned/negative ints, byte and text strings, maps.
type Cbor = number | string | Buffer | Map<Cbor, Cbor> | { [k: string]: Cbor };

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

export function cbor(v: Cbor): Buffer {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    return Buffer.concat([head(3, s.length), s]);
  }
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, val]) => [cbor(k), cbor(val)])]);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();
const b64u = (b: Buffer) => b.toString('base64url');

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

export interface SoftCredential {
  id: Buffer;
  privateKey: KeyObject;
  /** The COSE_Key of the public key (EC2, ES256, P-256). */
  cosePublicKey: Buffer;
  rpId: string;
  userHandle: string;
  counter: number;
}

export interface CeremonyOptions {
  /** The origin the "browser" puts into clientDataJSON (default: the authenticator's). */
  origin?: string;
  /** User verification performed (PIN, biometric): the UV flag. Default true. */
  userVerified?: boolean;
}

/** The subset of PublicKeyCredentialCreationOptionsJSON read here. */
interface CreationOptions {
  challenge: string;
  rp: { id?: string };
  user: { id: string };
}
/** The subset of PublicKeyCredentialRequestOptionsJSON read here. */
interface RequestOptions {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string }[];
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];

  constructor(readonly origin: string, readonly rpId: string) {}

  private authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter >>> 0);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  private clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), 'utf8');
  }

  /** navigator.credentials.create: a new discoverable ES256 credential, `none` attestation. */
  create(options: CreationOptions, opts: CeremonyOptions = {}) {
    const rpId = options.rp.id ?? this.rpId;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const cosePublicKey = cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x, 'base64url')], [-3, Buffer.from(jwk.y, 'base64url')]]));
    const credential: SoftCredential = { id: randomBytes(32), privateKey, cosePublicKey, rpId, userHandle: options.user.id, counter: 0 };
    this.credentials.push(credential);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credential.id.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, credential.id, cosePublicKey]);
    const flags = FLAG_UP | FLAG_AT | (opts.userVerified === false ? 0 : FLAG_UV);
    const authData = this.authData(rpId, flags, credential.counter, attested);
    const attestationObject = cbor({ fmt: 'none', attStmt: new Map(), authData });
    const clientDataJSON = this.clientData('webauthn.create', options.challenge, opts.origin ?? this.origin);
    return {
      credential,
      response: {
        id: b64u(credential.id),
        rawId: b64u(credential.id),
        type: 'public-key' as const,
        response: { clientDataJSON: b64u(clientDataJSON), attestationObject: b64u(attestationObject), transports: ['internal'] },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform' as const,
      },
    };
  }

  /**
   * navigator.credentials.get: an assertion by `credential` (default: one allowed by the options,
   * or the first for the RP: a discoverable credential). `counter`: the signature counter to claim
   * (default: one more than the last).
   */
  get(options: RequestOptions, opts: CeremonyOptions & { credential?: SoftCredential; counter?: number } = {}) {
    const rpId = options.rpId ?? this.rpId;
    const allowed = (options.allowCredentials ?? []).map((c) => c.id);
    const credential =
      opts.credential ?? this.credentials.find((c) => c.rpId === rpId && (allowed.length === 0 || allowed.includes(b64u(c.id))));
    if (!credential) throw new Error('no credential for these options');
    credential.counter = opts.counter ?? credential.counter + 1;
    const flags = FLAG_UP | (opts.userVerified === false ? 0 : FLAG_UV);
    const authData = this.authData(rpId, flags, credential.counter);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, opts.origin ?? this.origin);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
    return {
      id: b64u(credential.id),
      rawId: b64u(credential.id),
      type: 'public-key' as const,
      response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authData), signature: b64u(signature), userHandle: credential.userHandle },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform' as const,
    };
  }
}
