import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../common/config';
import { deriveKeys } from '../common/crypto';
import { ormConfig } from '../entities/mikro-orm.config';
import { SigningKey } from '../entities/signing-key.entity';
import { provisionSigningKey } from '../api/tokens/signing-keys';

/** Runs `fn` with an EntityManager on `databaseUrl` (the keys CLI's own way in). */
export async function withKeysOrm<T>(databaseUrl: string, fn: (em: EntityManager) => Promise<T>): Promise<T> {
  const orm = await MikroORM.init(ormConfig(databaseUrl, { pool: { min: 0, max: 2 } }));
  try {
    return await fn(orm.em.fork());
  } finally {
    await orm.close(true);
  }
}

/** The database's first signing key, as `npm run migrate` provisions it (nothing when one is published). */
export async function ensureSigningKey(config: Config): Promise<void> {
  await withKeysOrm(config.DATABASE_URL, (em) => provisionSigningKey(em, deriveKeys(config)));
}

/**
 * A database of its own for a test that rotates keys, so a rotation there never meets one under
 * way in the shared database (whose pending key may wait for the default 20 minutes). Created
 * once (the stack's role has CREATEDB), migrated, and emptied of keys but one fresh signing key.
 * The API of such a test reads its keys there; the DB processor keeps the shared database.
 */
export async function isolatedKeyDatabase(config: Config, suffix: string): Promise<string> {
  const url = new URL(config.DATABASE_URL);
  const name = `${url.pathname.slice(1)}_${suffix}`;
  await withKeysOrm(config.DATABASE_URL, async (em) => {
    const found = await em.getConnection().execute('select 1 from pg_database where datname = ?', [name]);
    if (found.length === 0) await em.getConnection().execute(`create database "${name}"`);
  });
  url.pathname = `/${name}`;
  const isolated = url.toString();
  const orm = await MikroORM.init(ormConfig(isolated, { pool: { min: 0, max: 2 }, logger: () => undefined }));
  await orm.getMigrator().up().finally(() => orm.close(true));
  await resetSigningKeys(isolated, config);
  return isolated;
}

/** Deletes every key of a test's own key database and provisions one that signs now. */
export async function resetSigningKeys(databaseUrl: string, config: Config): Promise<void> {
  await withKeysOrm(databaseUrl, async (em) => {
    await em.nativeDelete(SigningKey, {});
    await provisionSigningKey(em, deriveKeys(config));
  });
}
