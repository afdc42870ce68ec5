import { Migration } from '@mikro-orm/migrations';

/** Ids of authenticated Kafka requests already acted on, kept for the freshness window (replay guard). */
export class Migration20261202000000_kafka_seen_messages extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists "kafka_seen_messages" (
        "message_id" uuid primary key,
        "sent_at" timestamptz not null
      );`);
    this.addSql('create index if not exists "kafka_seen_messages_sent_at_idx" on "kafka_seen_messages" ("sent_at");');
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "kafka_seen_messages";');
  }
}
