import { Migration } from '@mikro-orm/migrations';

/**
 * Passkeys (WebAuthn credentials): one row per credential. The credential id is unique across all
 * accounts (an authenticator makes a new one per registration); the counter only moves forward.
 */
export class Migration20261205000100_passkeys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists "passkeys" (
        "id" uuid primary key,
        "user_id" uuid not null references "users" ("id") on delete cascade,
        "credential_id" varchar(1400) not null,
        "public_key" varchar(2048) not null,
        "counter" bigint not null default 0,
        "transports" varchar(200) not null default '',
        "label" varchar(64) not null,
        "last_used_at" timestamptz null,
        "created_at" timestamptz not null,
        "updated_at" timestamptz not null,
        constraint "passkeys_credential_id_unique" unique ("credential_id")
      );`);
    this.addSql('create index if not exists "passkeys_user_id_index" on "passkeys" ("user_id");');
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "passkeys";');
  }
}
