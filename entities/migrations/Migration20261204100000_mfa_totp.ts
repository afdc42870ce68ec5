import { Migration } from '@mikro-orm/migrations';

/**
 * Second factor: the TOTP secret (sealed by the API, SealContext.totpSecretForUser; never readable
 * here) and the recovery codes, one row per code, keyed digests only. A code is spent by deleting
 * its row, so two requests with the same code cannot both spend it.
 */
export class Migration20261204100000_mfa_totp extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "users" add column if not exists "totp_secret_sealed" varchar(1024) null;');
    this.addSql('alter table "users" add column if not exists "totp_enabled_at" timestamptz null;');
    this.addSql(`
      create table if not exists "recovery_codes" (
        "id" uuid primary key,
        "user_id" uuid not null references "users" ("id") on delete cascade,
        "digest" char(64) not null,
        "created_at" timestamptz not null,
        "updated_at" timestamptz not null,
        constraint "recovery_codes_user_digest_unique" unique ("user_id", "digest")
      );`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "recovery_codes";');
    this.addSql('alter table "users" drop column if exists "totp_enabled_at";');
    this.addSql('alter table "users" drop column if exists "totp_secret_sealed";');
  }
}
