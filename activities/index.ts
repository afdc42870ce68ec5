import type Redis from 'ioredis';
import type { Keys } from '../common/crypto';
import type { KafkaRequester } from '../common/kafka/request-reply';
import type { SessionStore } from '../api/sessions/session.store';
import { createAccountActivities } from './account.activities';
import { createCodeActivities } from './code.activities';
import type { Mailer } from '../common/mailer';
import { createEmailActivities } from './email.activities';
import { createUserActivities } from './user.activities';

export interface ActivityDeps {
  redis: Redis;
  mailer: Mailer;
  requester: KafkaRequester;
  keys: Keys;
  /** The API's session store (same Redis): account flows revoke sessions. */
  sessions: SessionStore;
  /** Where links in mails point (the web client). */
  webBaseUrl?: string;
}

/** The worker passes real clients; unit tests pass fakes. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCodeActivities(deps),
    ...createEmailActivities(deps),
    ...createUserActivities(deps),
    ...createAccountActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
