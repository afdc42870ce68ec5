import { Migration } from '@mikro-orm/migrations';

/**
 * The outbox of auth events (written in the transaction of the change, relayed to Kafka by the DB
 * processor) and the append-only audit trail.
 *
 * `audit_event` is append-only twice over: the role that runs the migrations and the services
 * (the table's owner locally) gives up UPDATE, DELETE and TRUNCATE on it, and triggers refuse them
 * for anyone who holds them anyway (a superuser, an owner who granted them back). Retention
 * (MiFID II: five years) is kept by `occurred_at` (indexed) with an archive job run as the DBA;
 * no application path deletes from it.
 */
export class Migration20261204000000_events_outbox_audit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists "outbox" (
        "id" bigserial primary key,
        "event_id" uuid not null unique,
        "topic" text not null,
        "message_key" text not null,
        "payload" jsonb not null,
        "created_at" timestamptz not null default now(),
        "sent_at" timestamptz null
      );`);
    this.addSql('create index if not exists "outbox_unsent_idx" on "outbox" ("id") where "sent_at" is null;');
    this.addSql('create index if not exists "outbox_sent_at_idx" on "outbox" ("sent_at") where "sent_at" is not null;');

    this.addSql(`
      create table if not exists "audit_event" (
        "id" uuid primary key,
        "occurred_at" timestamptz not null default now(),
        "actor" text not null,
        "action" text not null,
        "subject_user_id" uuid null,
        "request_id" text null,
        "source_ip" text null,
        "outcome" text not null
      );`);
    this.addSql('create index if not exists "audit_event_subject_idx" on "audit_event" ("subject_user_id", "occurred_at");');
    this.addSql('create index if not exists "audit_event_occurred_at_idx" on "audit_event" ("occurred_at");');
    this.addSql(`
      create or replace function "audit_event_append_only"() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_event is append-only: % refused', tg_op using errcode = 'P0A01';
      end $$;`);
    this.addSql('drop trigger if exists "audit_event_no_update_delete" on "audit_event";');
    this.addSql(`create trigger "audit_event_no_update_delete" before update or delete on "audit_event"
      for each row execute function "audit_event_append_only"();`);
    this.addSql('drop trigger if exists "audit_event_no_truncate" on "audit_event";');
    this.addSql(`create trigger "audit_event_no_truncate" before truncate on "audit_event"
      for each statement execute function "audit_event_append_only"();`);
    this.addSql('revoke update, delete, truncate on "audit_event" from public;');
    this.addSql('revoke update, delete, truncate on "audit_event" from current_user;');
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "outbox";');
  }
}
