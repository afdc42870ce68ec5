/** KAFKA_TOPIC_PREFIX names every topic, consumer group and ACL of a deployment; a bad one stops the start. */
import { loadConfig } from '../../common/config';
import { topicPrefix } from '../../common/kafka/topics';

type Topics = typeof import('../../common/kafka/topics');
type Identity = typeof import('../../common/kafka/identity');

function loadWith(prefix: string | undefined): { topics: Topics; identity: Identity } {
  const saved = process.env.KAFKA_TOPIC_PREFIX;
  if (prefix === undefined) delete process.env.KAFKA_TOPIC_PREFIX;
  else process.env.KAFKA_TOPIC_PREFIX = prefix;
  try {
    let out!: { topics: Topics; identity: Identity };
    jest.isolateModules(() => {
      out = { topics: require('../../common/kafka/topics'), identity: require('../../common/kafka/identity') };
    });
    return out;
  } finally {
    if (saved === undefined) delete process.env.KAFKA_TOPIC_PREFIX;
    else process.env.KAFKA_TOPIC_PREFIX = saved;
  }
}

describe('KAFKA_TOPIC_PREFIX', () => {
  it('unset: the names are the plain ones', () => {
    const { topics } = loadWith(undefined);
    expect(topics.TOPICS.dbRequests).toBe('auth.db.requests.v1');
    expect(topics.DB_PROCESSOR_GROUP).toBe('auth-db-processor');
  });

  it('set: every topic, group, reply group and ACL carries it', () => {
    const { topics, identity } = loadWith('staging.');
    for (const t of Object.values(topics.TOPICS)) expect(t.startsWith('staging.')).toBe(true);
    for (const s of topics.TOPIC_SPECS) expect(s.topic.startsWith('staging.')).toBe(true);
    expect([topics.DB_PROCESSOR_GROUP, topics.DB_PROCESSOR_AUDIT_GROUP, topics.REPLY_GROUP_PREFIX].every((g) => g.startsWith('staging.'))).toBe(true);
    expect(topics.requestTopic('audit.record')).toBe('staging.auth.db.audit.v1');
    expect(topics.requestTopic('user.find')).toBe('staging.auth.db.requests.v1');
    expect(identity.ACL_GRANTS.length).toBeGreaterThan(0);
    for (const a of identity.ACL_GRANTS) expect(a.name.startsWith('staging.')).toBe(true);
  });

  it('refuses what Kafka cannot name, at load and in the config', () => {
    expect(() => topicPrefix('a b')).toThrow(/KAFKA_TOPIC_PREFIX/);
    expect(() => topicPrefix('x'.repeat(41))).toThrow(/KAFKA_TOPIC_PREFIX/);
    expect(topicPrefix('team-a_1.')).toBe('team-a_1.');
    expect(() => loadConfig({ NODE_ENV: 'test', KAFKA_TOPIC_PREFIX: 'no/slash' })).toThrow(/KAFKA_TOPIC_PREFIX/);
  });
});
