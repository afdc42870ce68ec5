import { EntitySchema } from '@mikro-orm/core';

/**
 * A key that signs access tokens (ES256). The private half is sealed (common/crypto seal, context
 * SealContext.signingKey(kid)); the public half is what the JWKS publishes. A key is published from
 * its creation until `retiresAt`, and signs from `activatesAt` until a newer key activates.
 */
export class SigningKey {
  /** RFC 7638 thumbprint of the public key. */
  kid!: string;
  alg!: 'ES256';
  publicJwk!: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  privateKeySealed!: string;
  createdAt: Date = new Date();
  activatesAt!: Date;
  /** Unset while the key is the newest; set at the next rotation to when its last token has expired. */
  retiresAt?: Date | null;
}

export const SigningKeySchema = new EntitySchema<SigningKey>({
  class: SigningKey,
  tableName: 'signing_keys',
  properties: {
    kid: { type: 'string', primary: true, length: 64 },
    alg: { type: 'string', length: 16 },
    publicJwk: { type: 'json', fieldName: 'public_jwk' },
    privateKeySealed: { type: 'text', fieldName: 'private_key_sealed', lazy: false },
    createdAt: { type: 'Date', fieldName: 'created_at', columnType: 'timestamptz' },
    activatesAt: { type: 'Date', fieldName: 'activates_at', columnType: 'timestamptz' },
    retiresAt: { type: 'Date', fieldName: 'retires_at', columnType: 'timestamptz', nullable: true },
  },
});
