import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { BaseEntitySchema } from './base.entity';
import { SigningKeySchema } from './signing-key.entity';
import { UserSchema } from './user.entity';
import { RecoveryCodeSchema } from './recovery-code.entity';
import { PasskeySchema } from './passkey.entity';
import { Migration20261125000000_users } from './migrations/Migration20261125000000_users';
import { Migration20261202000000_kafka_seen_messages } from './migrations/Migration20261202000000_kafka_seen_messages';
import { Migration20261202100000_kafka_seen_messages_unlogged } from './migrations/Migration20261202100000_kafka_seen_messages_unlogged';
import { Migration20261203000000_users_closed_at } from './migrations/Migration20261203000000_users_closed_at';
import { Migration20261204000000_tokens_signing_keys } from './migrations/Migration20261204000000_tokens_signing_keys';
import { Migration20261204000000_events_outbox_audit } from './migrations/Migration20261204000000_events_outbox_audit';
import { Migration20261204100000_mfa_totp } from './migrations/Migration20261204100000_mfa_totp';
import { Migration20261205000000_users_locked_at } from './migrations/Migration20261205000000_users_locked_at';
import { Migration20261205000100_passkeys } from './migrations/Migration20261205000100_passkeys';

/** Migrations are listed here, in order, so they load the same under tsx, jest and a build. */
const MIGRATIONS = [
  { name: 'Migration20261125000000_users', class: Migration20261125000000_users },
  { name: 'Migration20261202000000_kafka_seen_messages', class: Migration20261202000000_kafka_seen_messages },
  { name: 'Migration20261202100000_kafka_seen_messages_unlogged', class: Migration20261202100000_kafka_seen_messages_unlogged },
  { name: 'Migration20261203000000_users_closed_at', class: Migration20261203000000_users_closed_at },
  { name: 'Migration20261204000000_tokens_signing_keys', class: Migration20261204000000_tokens_signing_keys },
  { name: 'Migration20261204000000_events_outbox_audit', class: Migration20261204000000_events_outbox_audit },
  { name: 'Migration20261204100000_mfa_totp', class: Migration20261204100000_mfa_totp },
  { name: 'Migration20261205000000_users_locked_at', class: Migration20261205000000_users_locked_at },
  { name: 'Migration20261205000100_passkeys', class: Migration20261205000100_passkeys },
];

export function ormConfig(databaseUrl: string, overrides: Partial<Options> = {}): Options {
  return defineConfig({
    clientUrl: databaseUrl,
    entities: [BaseEntitySchema, UserSchema, SigningKeySchema, RecoveryCodeSchema, PasskeySchema],
    extensions: [Migrator],
    migrations: { migrationsList: MIGRATIONS, transactional: true, allOrNothing: true },
    discovery: { warnWhenNoEntities: true },
    pool: { min: 0, max: 10, acquireTimeoutMillis: 5000 },
    driverOptions: { connection: { connectionTimeoutMillis: 3000, statement_timeout: 5000 } },
    debug: false,
    allowGlobalContext: false,
    ...overrides,
  });
}
