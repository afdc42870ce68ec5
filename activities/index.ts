import type Redis from 'ioredis';
import type { Keys } from '../common/crypto';
import type { KafkaRequester } from '../common/kafka/request-reply';
import { createCodeActivities } from './code.activities';
import type { Mailer } from '../common/mailer';
import { createEmailActivities } from './email.activities';
import { createUserActivities } from './user.activities';

export interface ActivityDeps {
  redis: Redis;
  mailer: Mailer;
  requester: KafkaRequester;
  keys: Keys;
}

/** The worker passes real clients; unit tests pass fakes. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCodeActivities(deps),
    ...createEmailActivities(deps),
    ...createUserActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
