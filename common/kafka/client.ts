import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes, type Admin, type KafkaConfig } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { ACL_GRANTS, kafkaSasl, kafkaUsername, ROLE_TOPICS, type KafkaRole } from './identity';
import { applyRequestQueueFix } from './request-queue-fix';
import { TOPIC_SPECS } from './topics';

applyRequestQueueFix();

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A Kafka client that authenticates as `role` (common/kafka/identity.ts). */
export function createKafka(config: Config, logger: Logger, role: KafkaRole, clientId = `${config.KAFKA_CLIENT_ID}-${role}`): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId,
    sasl: kafkaSasl(config, role),
    brokers: config.KAFKA_BROKERS,
    ssl: config.KAFKA_SSL,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log }) => {
      const { message, ...extra } = log;
      logger[LEVELS[level] ?? 'info']({ kafka: extra }, `kafkajs: ${message}`);
    },
  };
  return new Kafka(kafkaConfig);
}

/** Runs `fn` with a connected admin client, disconnected afterwards whatever happens. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Start-up check of a service: the topics its role uses exist. Only the admin creates topics
 * (scripts/ensure-topics.ts, run by scripts/stack.sh and compose's migrate step); a service that
 * finds one missing says so and fails, since its credentials may not create it. Topics and ACLs
 * created a moment ago may take a moment more to be visible to the service's user: it looks again
 * for up to `waitMs` before failing.
 */
export async function requireTopics(kafka: Kafka, role: KafkaRole, waitMs = 10_000): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const until = Date.now() + waitMs;
    for (;;) {
      const visible = new Set(await admin.listTopics());
      const missing = ROLE_TOPICS[role].filter((t) => !visible.has(t));
      if (missing.length === 0) return;
      if (Date.now() >= until) {
        throw new Error(`Kafka topics missing or not visible to ${kafkaUsername(role)}: ${missing.join(', ')} (run scripts/ensure-topics.ts, which creates topics and ACLs as cfd-admin)`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  });
}

const OPERATIONS = { READ: AclOperationTypes.READ, WRITE: AclOperationTypes.WRITE, DESCRIBE: AclOperationTypes.DESCRIBE } as const;

/** Every ACL binding the services need (common/kafka/identity.ts), under this process's topic prefix. */
function aclBindings() {
  return ACL_GRANTS.flatMap((g) =>
    g.operations.map((op) => ({
      resourceType: g.resource === 'topic' ? AclResourceTypes.TOPIC : AclResourceTypes.GROUP,
      resourceName: g.name,
      resourcePatternType: g.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
      principal: `User:${kafkaUsername(g.role)}`,
      host: '*',
      operation: OPERATIONS[op],
      permissionType: AclPermissionTypes.ALLOW,
    })),
  );
}

/** Grants every service its ACLs; granting an existing ACL is a no-op. */
export async function ensureAcls(kafka: Kafka): Promise<void> {
  await withAdmin(kafka, (admin) => admin.createAcls({ acl: aclBindings() }));
}

/** Revokes what ensureAcls grants (a deployment under a KAFKA_TOPIC_PREFIX that is gone, e.g. a test's). */
export async function revokeAcls(kafka: Kafka): Promise<void> {
  await withAdmin(kafka, (admin) => admin.deleteAcls({ filters: aclBindings() }));
}

/** Creates missing topics with their partitions and retention (admin only); existing ones are left as they are. */
export async function ensureTopics(kafka: Kafka): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = TOPIC_SPECS.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.topic,
        numPartitions: t.numPartitions,
        replicationFactor: 1,
        configEntries: [{ name: 'retention.ms', value: String(t.retentionMs) }],
      })),
    });
  });
}
