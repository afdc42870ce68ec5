import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig } from '../entities/mikro-orm.config';

/** Direct reads of Postgres for assertions (what the DB processor really stored). */
export async function withDb<T>(databaseUrl: string, fn: (sql: (q: string, params?: unknown[]) => Promise<any[]>) => Promise<T>): Promise<T> {
  const orm = await MikroORM.init(ormConfig(databaseUrl, { pool: { min: 0, max: 2 } }));
  try {
    return await fn((q, params = []) => orm.em.getConnection().execute(q, params as any[]));
  } finally {
    await orm.close(true);
  }
}
