import { Migration } from '@mikro-orm/migrations';

export class Migration20261125000000_users extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists "users" (
        "id" uuid primary key,
        "email" varchar(254) not null,
        "name" varchar(100) not null,
        "password_hash" varchar(100) not null,
        "email_verified_at" timestamptz not null,
        "signup_ref" varchar(200) not null,
        "created_at" timestamptz not null,
        "updated_at" timestamptz not null,
        constraint "users_email_unique" unique ("email")
      );`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "users";');
  }
}
