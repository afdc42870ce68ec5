import { Migration } from '@mikro-orm/migrations';

/** The admin lock (api/admin): set by an operator, the account cannot sign in until it is unlocked. */
export class Migration20261205000000_users_locked_at extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "users" add column if not exists "locked_at" timestamptz null;');
  }

  override async down(): Promise<void> {
    this.addSql('alter table "users" drop column if exists "locked_at";');
  }
}
