import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authEventJsonSchema } from '../common/events/auth-events';

/** Where the JSON Schema of auth.events.v1 is published (test/unit/auth-events.test.ts keeps it current). */
export const EVENT_SCHEMA_PATH = join(__dirname, '..', 'docs', 'events', 'auth-events.v1.schema.json');

export const renderEventSchema = (): string => `${JSON.stringify(authEventJsonSchema(), null, 2)}\n`;

if (require.main === module) {
  writeFileSync(EVENT_SCHEMA_PATH, renderEventSchema());
  process.stdout.write(`wrote ${EVENT_SCHEMA_PATH}\n`);
}
