import { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../common/config';
import { deriveKeys, type Keys } from '../common/crypto';
import { ormConfig } from '../entities/mikro-orm.config';
import { provisionSigningKey } from '../api/tokens/signing-keys';

/**
 * Applies pending migrations; run by the stack scripts before the app starts. Given the keys, it
 * then provisions the first access-token signing key when none is published (once per database).
 */
export async function migrate(databaseUrl: string, keys?: Keys): Promise<string[]> {
  const orm = await MikroORM.init(ormConfig(databaseUrl));
  try {
    const applied = await orm.getMigrator().up();
    const names = applied.map((m) => m.name);
    const key = keys && (await provisionSigningKey(orm.em.fork(), keys));
    return key ? [...names, `first signing key ${key.kid}`] : names;
  } finally {
    await orm.close(true);
  }
}

if (require.main === module) {
  const config = loadConfig();
  migrate(config.DATABASE_URL, deriveKeys(config))
    .then((names) => {
      process.stdout.write(names.length ? `migrations applied: ${names.join(', ')}\n` : 'migrations: up to date\n');
    })
    .catch((err) => {
      process.stderr.write(`migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
