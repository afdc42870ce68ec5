import { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../common/config';
import { ormConfig } from '../entities/mikro-orm.config';

/** Applies pending migrations; run by the stack scripts before the app starts. */
export async function migrate(databaseUrl: string): Promise<string[]> {
  const orm = await MikroORM.init(ormConfig(databaseUrl));
  try {
    const applied = await orm.getMigrator().up();
    return applied.map((m) => m.name);
  } finally {
    await orm.close(true);
  }
}

if (require.main === module) {
  migrate(loadConfig().DATABASE_URL)
    .then((names) => {
      process.stdout.write(names.length ? `migrations applied: ${names.join(', ')}\n` : 'migrations: up to date\n');
    })
    .catch((err) => {
      process.stderr.write(`migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
