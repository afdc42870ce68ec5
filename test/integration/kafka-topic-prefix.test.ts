/**
 * KAFKA_TOPIC_PREFIX (README "Kafka request/reply and scaling"): a deployment under a prefix has
 * topics, consumer groups and ACLs of its own on a shared cluster. Its requests travel only on its
 * own topics and are handled by its own DB processor's groups; the unprefixed topics do not move.
 * (The bench's twins run so; without the prefix they shared the main system's groups.)
 */
import { TEST_TOPIC_PREFIX } from '../support/prefixed-topics';
import { createKafka, ensureAcls, ensureTopics, revokeAcls } from '../../common/kafka/client';
import { DB_PROCESSOR_AUDIT_GROUP, DB_PROCESSOR_GROUP, TOPICS } from '../../common/kafka/topics';
import { loadConfig } from '../../common/config';
import { createAccount } from '../../testkit/accounts';
import { useSystem, type System } from '../../testkit/system';
import { quietLogger } from '../../testkit/env';

const UNPREFIXED = ['auth.db.requests.v1', 'auth.db.audit.v1', 'auth.db.replies.v1'];

describe('KAFKA_TOPIC_PREFIX', () => {
  const kafka = createKafka(loadConfig(), quietLogger(), 'admin');
  const admin = kafka.admin();
  const MINE = [TOPICS.dbRequests, TOPICS.dbAudit, TOPICS.dbReplies];
  /** Sum of the high watermarks of a topic's partitions. */
  const written = async (topic: string) => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);

  beforeAll(async () => {
    // What scripts/ensure-topics.ts does for a deployment started with this prefix; the system starts right after.
    await ensureTopics(kafka);
    await ensureAcls(kafka);
    await admin.connect();
  });

  let sys: System;
  useSystem({}, (started) => {
    sys = started;
  });
  // Declared after useSystem: the system is closed first.
  afterAll(async () => {
    // This run's namespace is gone for good: its topics and ACLs with it.
    await admin.deleteTopics({ topics: Object.values(TOPICS), timeout: 30_000 }).catch(() => undefined);
    await revokeAcls(kafka).catch(() => undefined);
    await admin.disconnect();
  });

  it('a signup and its verify use only the prefixed topics, read in prefixed groups', async () => {
    expect(TOPICS.dbRequests).toBe(`${TEST_TOPIC_PREFIX}auth.db.requests.v1`);
    const before = await Promise.all(UNPREFIXED.map(written));
    const mine = await Promise.all(MINE.map(written));

    const account = await createAccount(sys.apiUrl, 'topic-prefix');
    expect(account.user.id).toBeTruthy();

    const after = await Promise.all(MINE.map(written));
    // Requests (the registered-email check, the account's creation), audit rows and their replies.
    after.forEach((n, i) => expect(n).toBeGreaterThan(mine[i]));
    expect(await Promise.all(UNPREFIXED.map(written))).toEqual(before);
    // The DB processor reads them in groups of its own.
    for (const group of [DB_PROCESSOR_GROUP, DB_PROCESSOR_AUDIT_GROUP]) {
      expect(group.startsWith(TEST_TOPIC_PREFIX)).toBe(true);
      const { groups } = await admin.describeGroups([group]);
      expect(groups[0].members.length).toBeGreaterThan(0);
    }
  });
});
