/**
 * `npm run admin -- token --name <who>`: an admin token (api/admin/admin-token.ts) for operator
 * `<who>`, printed on stdout alone (pipe it, e.g. `TOKEN=$(npm run -s admin -- token --name ada)`).
 * The minting is audited first (actor `admin:<who>`, action `admin.token_minted`, request id = the
 * token's jti): no row, no token. Like `npm run keys`, it reads the signing keys and writes the
 * audit row in Postgres directly: it runs where the sealing key and the database are (README
 * "For service owners").
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../common/config';
import { deriveKeys } from '../common/crypto';
import { newAuditEntry } from '../common/events/audit';
import { createLogger } from '../common/logger';
import { ormConfig } from '../entities/mikro-orm.config';
import { isAdminName, mintAdminToken } from '../api/admin/admin-token';
import { SigningKeyCache } from '../api/tokens/key-cache';
import { publishedKeys } from '../api/tokens/signing-keys';
import { appendAudit } from '../db-processor/outbox';

const USAGE = 'usage: npm run admin -- token --name <who>   (who: 1 to 64 of a-z 0-9 . _ -)';

async function main(argv: string[]): Promise<number> {
  const [command, flag, name, ...rest] = argv;
  if (command !== 'token' || flag !== '--name' || !name || rest.length > 0 || !isAdminName(name)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const orm = await MikroORM.init(ormConfig(config.DATABASE_URL, { pool: { min: 0, max: 1 } }));
  try {
    const cache = new SigningKeyCache(() => publishedKeys(orm.em.fork()), deriveKeys(config), { refreshMs: 60_000, maxStaleMs: 60_000, logger: createLogger('admin-cli', 'warn', process.stderr) });
    await cache.refresh();
    const { token, jti, expiresAt } = mintAdminToken(config, cache.signingKey(), name);
    const entry = newAuditEntry({ actor: `admin:${name}`, action: 'admin.token_minted', subjectUserId: null, outcome: 'success', requestId: jti });
    await orm.em.fork().transactional((tx) => appendAudit(tx, entry));
    process.stdout.write(`${token}\n`);
    process.stderr.write(`admin token for admin:${name} (jti ${jti}), valid until ${expiresAt.toISOString()}; audited\n`);
    return 0;
  } finally {
    await orm.close(true);
  }
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    process.stderr.write(`admin: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
