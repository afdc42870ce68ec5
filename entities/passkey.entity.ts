import { BigIntType, EntitySchema } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * A WebAuthn credential of a user (a passkey): its id and COSE public key (base64url; public, not
 * secret), the authenticator's signature counter, its transports and the user's label for it.
 */
export class Passkey extends BaseEntity {
  userId!: string;
  credentialId!: string;
  publicKey!: string;
  counter!: number;
  /** Comma-separated (`internal,hybrid`): hints for the browser, echoed in allowCredentials. */
  transports!: string;
  label!: string;
  lastUsedAt?: Date | null;
}

export const PasskeySchema = new EntitySchema<Passkey, BaseEntity>({
  class: Passkey,
  extends: 'BaseEntity',
  tableName: 'passkeys',
  properties: {
    userId: { type: 'uuid', fieldName: 'user_id' },
    credentialId: { type: 'string', fieldName: 'credential_id', length: 1400 },
    publicKey: { type: 'string', fieldName: 'public_key', length: 2048 },
    // A uint32 on the wire: past a Postgres integer, so bigint, read back as a number.
    counter: { type: new BigIntType('number') },
    transports: { type: 'string', length: 200 },
    label: { type: 'string', length: 64 },
    lastUsedAt: { type: 'Date', fieldName: 'last_used_at', columnType: 'timestamptz', nullable: true },
  },
});
