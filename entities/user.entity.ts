import { EntitySchema } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

export class User extends BaseEntity {
  /** Normalised (trimmed, lower-cased); the unique index on it is the final word on duplicates. */
  email!: string;
  name!: string;
  passwordHash!: string;
  emailVerifiedAt!: Date;
  /** The signup that created this user: a retried create with the same ref returns this user. */
  signupRef!: string;
  /** Set while the account waits out its closure's grace period (sign-in does not find it); the row is then deleted. */
  closedAt?: Date | null;
  /** The TOTP secret, sealed by the API for this user; null: no second factor. */
  totpSecretSealed?: string | null;
  totpEnabledAt?: Date | null;
  /** Set by an operator (admin API): the account cannot sign in and has no session until unlocked. */
  lockedAt?: Date | null;
}

export const UserSchema = new EntitySchema<User, BaseEntity>({
  class: User,
  extends: 'BaseEntity',
  tableName: 'users',
  properties: {
    email: { type: 'string', length: 254, unique: 'users_email_unique' },
    name: { type: 'string', length: 100 },
    passwordHash: { type: 'string', fieldName: 'password_hash', length: 100, lazy: false },
    emailVerifiedAt: { type: 'Date', fieldName: 'email_verified_at', columnType: 'timestamptz' },
    signupRef: { type: 'string', fieldName: 'signup_ref', length: 200 },
    closedAt: { type: 'Date', fieldName: 'closed_at', columnType: 'timestamptz', nullable: true },
    totpSecretSealed: { type: 'string', fieldName: 'totp_secret_sealed', length: 1024, nullable: true },
    totpEnabledAt: { type: 'Date', fieldName: 'totp_enabled_at', columnType: 'timestamptz', nullable: true },
    lockedAt: { type: 'Date', fieldName: 'locked_at', columnType: 'timestamptz', nullable: true },
  },
});
