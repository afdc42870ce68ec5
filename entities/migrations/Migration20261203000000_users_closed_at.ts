import { Migration } from '@mikro-orm/migrations';

/** Account closure: a closed account keeps its row (and its address) until its grace period ends. */
export class Migration20261203000000_users_closed_at extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "users" add column if not exists "closed_at" timestamptz null;');
  }

  override async down(): Promise<void> {
    this.addSql('alter table "users" drop column if exists "closed_at";');
  }
}
