/**
 * `npm run keys -- list | rotate`: the access-token signing keys (api/tokens/signing-keys.ts).
 * Writes Postgres with MikroORM directly: signing keys are operator-managed infrastructure, not a
 * user's change, so they do not go through the DB processor (README "Access tokens").
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../common/config';
import { deriveKeys } from '../common/crypto';
import { ormConfig } from '../entities/mikro-orm.config';
import { allKeys, jwksMaxAgeSeconds, keyPolicy, keyState, RotationError, rotateSigningKey } from '../api/tokens/signing-keys';

const USAGE = 'usage: npm run keys -- list | rotate';

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command !== 'list' && command !== 'rotate') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const orm = await MikroORM.init(ormConfig(config.DATABASE_URL));
  try {
    const now = new Date();
    if (command === 'rotate') {
      const policy = keyPolicy(config);
      const { next, retiring } = await rotateSigningKey(orm.em.fork(), deriveKeys(config), policy, now);
      process.stdout.write(
        `published ${next.kid}; it signs from ${next.activatesAt.toISOString()} ` +
          `(in ${config.SIGNING_KEY_PUBLISH_LEAD_S} s; the JWKS max-age is ${jwksMaxAgeSeconds(config)} s)\n`,
      );
      for (const k of retiring) process.stdout.write(`${k.kid} signs until then and stays published until ${k.retiresAt!.toISOString()}\n`);
    }
    const keys = await allKeys(orm.em.fork());
    const rows = keys.map((k) => [k.kid, keyState(k, keys, now), k.createdAt.toISOString(), k.activatesAt.toISOString(), k.retiresAt ? k.retiresAt.toISOString() : '-']);
    const head = ['kid', 'state', 'created', 'activates', 'retires'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
    return 0;
  } catch (err) {
    if (err instanceof RotationError) {
      process.stderr.write(`not rotated: ${err.message}\n`);
      return 3;
    }
    throw err;
  } finally {
    await orm.close(true);
  }
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    process.stderr.write(`keys: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
