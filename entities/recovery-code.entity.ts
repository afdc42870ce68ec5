import { EntitySchema } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/** One unspent recovery code of a user: its keyed digest (common/crypto.ts recoveryCodeDigest). */
export class RecoveryCode extends BaseEntity {
  userId!: string;
  digest!: string;
}

export const RecoveryCodeSchema = new EntitySchema<RecoveryCode, BaseEntity>({
  class: RecoveryCode,
  extends: 'BaseEntity',
  tableName: 'recovery_codes',
  properties: {
    userId: { type: 'uuid', fieldName: 'user_id' },
    digest: { type: 'string', length: 64, columnType: 'char(64)' },
  },
});
