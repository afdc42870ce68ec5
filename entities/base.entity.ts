import { EntitySchema } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';

export abstract class BaseEntity {
  id: string = randomUUID();
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const BaseEntitySchema = new EntitySchema<BaseEntity>({
  name: 'BaseEntity',
  abstract: true,
  properties: {
    id: { type: 'uuid', primary: true },
    createdAt: { type: 'Date', fieldName: 'created_at', columnType: 'timestamptz' },
    updatedAt: { type: 'Date', fieldName: 'updated_at', columnType: 'timestamptz', onUpdate: () => new Date() },
  },
});
