import { Migration } from '@mikro-orm/migrations';

/** Access-token signing keys (api/tokens): written by `npm run keys` and the first migrate, read by the API. */
export class Migration20261204000000_tokens_signing_keys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table if not exists "signing_keys" (
      "kid" varchar(64) not null primary key,
      "alg" varchar(16) not null,
      "public_jwk" jsonb not null,
      "private_key_sealed" text not null,
      "created_at" timestamptz not null,
      "activates_at" timestamptz not null,
      "retires_at" timestamptz null,
      constraint "signing_keys_retires_after_activation" check ("retires_at" is null or "retires_at" > "activates_at")
    );`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "signing_keys";');
  }
}
