import type { SASLOptions } from 'kafkajs';
import { ConfigError, type Config } from '../config';
import { TOPICS, DB_PROCESSOR_AUDIT_GROUP, DB_PROCESSOR_GROUP, REPLY_GROUP_PREFIX } from './topics';

/**
 * Who a process is to Kafka. Each role has its own SASL/SCRAM user, `cfd-<role>`, and the broker's
 * ACLs (granted by scripts/ensure-topics.ts as `cfd-admin`) let it do only its part:
 *   api, worker    write requests; read replies in groups `auth-replies.*`
 *   db-processor   read requests in its group; write replies and dead letters; write auth events
 *                  (the outbox relay) and their dead letters
 *   admin          super user: creates topics and ACLs (set-up and tests only, never a service)
 */
export const KAFKA_ROLES = ['api', 'worker', 'db-processor', 'admin'] as const;
export type KafkaRole = (typeof KAFKA_ROLES)[number];

export const kafkaUsername = (role: KafkaRole) => `cfd-${role}`;

/**
 * The local stack's password of a role (scripts/stack.sh formats the broker with the same, see
 * `kafka_dev_password` there). Used only where development secrets are allowed (NODE_ENV
 * development or test); elsewhere KAFKA_SASL_PASSWORD is required.
 */
export const devKafkaPassword = (role: KafkaRole) => `dev-only-kafka-${role}-password`;

/** The SASL settings of a process in `role`, or undefined when KAFKA_SASL_MECHANISM=none. */
export function kafkaSasl(config: Config, role: KafkaRole): SASLOptions | undefined {
  if (config.KAFKA_SASL_MECHANISM === 'none') return undefined;
  const password = config.KAFKA_SASL_PASSWORD ?? (config.devSecretsAllowed ? devKafkaPassword(role) : undefined);
  if (!password) throw new ConfigError('KAFKA_SASL_PASSWORD is required (the Kafka password of this process)');
  const username = config.KAFKA_SASL_USERNAME ?? kafkaUsername(role);
  return { mechanism: config.KAFKA_SASL_MECHANISM, username, password } as SASLOptions;
}

/** The topics a role uses: a process checks these exist at start-up (only `admin` creates them). */
export const ROLE_TOPICS: Record<KafkaRole, readonly string[]> = {
  api: [TOPICS.dbRequests, TOPICS.dbAudit, TOPICS.dbReplies],
  worker: [TOPICS.dbRequests, TOPICS.dbReplies],
  'db-processor': [TOPICS.dbRequests, TOPICS.dbAudit, TOPICS.dbReplies, TOPICS.dbDeadLetter, TOPICS.authEvents, TOPICS.authEventsDeadLetter],
  admin: Object.values(TOPICS),
};

export type AclOperation = 'READ' | 'WRITE' | 'DESCRIBE';
export interface AclGrant {
  role: KafkaRole;
  resource: 'topic' | 'group';
  name: string;
  /** true: every resource whose name starts with `name`. */
  prefixed?: boolean;
  operations: readonly AclOperation[];
}

/** Reply consumer groups are per process instance, all named with this prefix. */
export { REPLY_GROUP_PREFIX };

const requester = (role: KafkaRole): AclGrant[] => [
  { role, resource: 'topic', name: TOPICS.dbRequests, operations: ['WRITE', 'DESCRIBE'] },
  { role, resource: 'topic', name: TOPICS.dbReplies, operations: ['READ', 'DESCRIBE'] },
  { role, resource: 'group', name: REPLY_GROUP_PREFIX, prefixed: true, operations: ['READ', 'DESCRIBE'] },
];

/** Everything a service may do; nothing else is allowed (the broker denies when no ACL matches). */
export const ACL_GRANTS: readonly AclGrant[] = [
  ...requester('api'),
  // Only the API records audit rows over Kafka (the DB processor writes its own directly).
  { role: 'api', resource: 'topic', name: TOPICS.dbAudit, operations: ['WRITE', 'DESCRIBE'] },
  ...requester('worker'),
  { role: 'db-processor', resource: 'topic', name: TOPICS.dbRequests, operations: ['READ', 'DESCRIBE'] },
  { role: 'db-processor', resource: 'group', name: DB_PROCESSOR_GROUP, operations: ['READ', 'DESCRIBE'] },
  { role: 'db-processor', resource: 'topic', name: TOPICS.dbAudit, operations: ['READ', 'DESCRIBE'] },
  { role: 'db-processor', resource: 'group', name: DB_PROCESSOR_AUDIT_GROUP, operations: ['READ', 'DESCRIBE'] },
  { role: 'db-processor', resource: 'topic', name: TOPICS.dbReplies, operations: ['WRITE', 'DESCRIBE'] },
  { role: 'db-processor', resource: 'topic', name: TOPICS.dbDeadLetter, operations: ['WRITE', 'DESCRIBE'] },
  { role: 'db-processor', resource: 'topic', name: TOPICS.authEvents, operations: ['WRITE', 'DESCRIBE'] },
  { role: 'db-processor', resource: 'topic', name: TOPICS.authEventsDeadLetter, operations: ['WRITE', 'DESCRIBE'] },
];
