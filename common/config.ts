import { z } from 'zod';
import { applyDotenv } from './env-file';
import { parseKeyRing } from './kafka/keyring';
import { TOPIC_PREFIX_PATTERN } from './kafka/topics';
import { TRACE_INCOMING, TRACE_SAMPLERS } from './trace-settings';

const DEV_SECRETS = {
  JWT_SECRET: 'dev-only-jwt-secret-change-me-0123456789abcdef',
  HMAC_KEY: 'dev-only-hmac-key-change-me-0123456789abcdef',
  SEALING_KEY: 'dev-only-sealing-key-change-me-0123456789abcdef',
} as const;

const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
const seconds = (def: number) => z.coerce.number().int().positive().default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', ''])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');
const list = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

const schema = z.object({
  // No default: development secrets need NODE_ENV set to exactly development or test.
  NODE_ENV: z.enum(['development', 'test', 'production']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port(3001),
  WORKER_HEALTH_PORT: port(3002),
  DB_PROCESSOR_HEALTH_PORT: port(3003),
  // Prometheus: the API's /metrics on a port of its own (never on the public API port); the worker
  // and DB processor serve /metrics beside /health. METRICS_HOST is where these listen.
  METRICS_HOST: z.string().default('127.0.0.1'),
  API_METRICS_PORT: port(9464),
  /** The Temporal SDK's own worker metrics (served by its Rust core); 0 turns them off. */
  WORKER_TEMPORAL_METRICS_PORT: port(9465),
  /**
   * Traces (OpenTelemetry, OTLP/HTTP; the exporter appends /v1/traces). Empty: tracing off. Read by
   * common/tracing.ts before the config is parsed (instrumentations must load first); checked here.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.union([z.literal(''), z.string().url()]).optional(),
  /** Sampling (README "Traces"); unset: parentbased_traceidratio at OTEL_TRACES_SAMPLER_ARG or 0.05. */
  OTEL_TRACES_SAMPLER: z.union([z.literal(''), z.enum(TRACE_SAMPLERS)]).optional(),
  OTEL_TRACES_SAMPLER_ARG: z.union([z.literal(''), z.coerce.number().min(0).max(1)]).optional(),
  /** ignore (default): the API reads no trace context from its callers; follow: behind a gateway that starts the traces. */
  TRACE_INCOMING_CONTEXT: z.union([z.literal(''), z.enum(TRACE_INCOMING)]).optional(),
  WEB_ORIGINS: list('http://127.0.0.1:3000,http://localhost:3000'),
  TRUST_PROXY: z.string().default('loopback'),

  DATABASE_URL: z.string().url().default('postgres://cfd_auth:cfd_auth@127.0.0.1:5432/cfd_auth'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),

  KAFKA_BROKERS: list('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().default('cfd-auth'),
  // Before every topic and consumer group name (common/kafka/topics.ts reads it from the environment).
  KAFKA_TOPIC_PREFIX: z.string().regex(TOPIC_PREFIX_PATTERN, "letters, digits, '.', '_' and '-' only, at most 40").default(''),
  KAFKA_SSL: bool(false),
  // SASL is on unless switched off explicitly; the local stack and docker-compose run SCRAM-SHA-256.
  KAFKA_SASL_MECHANISM: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512']).default('scram-sha-256'),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  KAFKA_REJOIN_BOUND_MS: z.coerce.number().int().positive().default(60_000),
  EXIT_WHEN_NOT_LIVE: bool(false),

  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().optional(),
  TEMPORAL_TLS: bool(false),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),
  TEMPORAL_CALL_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  VERIFY_TIMEOUT_MS: z.coerce.number().int().positive().default(10000),
  TEMPORAL_PAYLOAD_KEYS: z.string().optional(),
  CODEC_SERVER_PORT: port(8234),

  SMTP_URL: z.string().url().default('smtp://127.0.0.1:1025'),
  MAIL_FROM: z.string().default('CFD Broker <no-reply@cfd-broker.local>'),

  JWT_SECRET: z.string().optional(),
  JWT_PREVIOUS_SECRETS: list(''),
  JWT_ISSUER: z.string().default('cfd-broker-auth'),
  JWT_AUDIENCE: z.string().default('cfd-broker'),
  HMAC_KEY: z.string().optional(),
  SEALING_KEY: z.string().optional(),
  SEALING_PREVIOUS_KEYS: list(''),

  // Access tokens for the broker's other services (api/tokens): ES256, signed with keys kept in
  // Postgres. A new key is published SIGNING_KEY_PUBLISH_LEAD_S before it signs; the JWKS may be
  // cached a quarter of that; the API re-reads the keys every SIGNING_KEY_REFRESH_MS.
  ACCESS_TOKEN_TTL_S: seconds(300),
  ACCESS_TOKEN_AUDIENCES: list('trading,payments,kyc'),
  /** Audiences whose tokens are a sensitive action: only for a session authenticated within REAUTH_WINDOW_S. */
  ACCESS_TOKEN_STEP_UP_AUDIENCES: list('trading'),
  ACCESS_TOKEN_CLOCK_SKEW_S: z.coerce.number().int().min(0).max(600).default(60),
  SIGNING_KEY_PUBLISH_LEAD_S: z.coerce.number().int().min(4).default(1200),
  SIGNING_KEY_REFRESH_MS: z.coerce.number().int().min(100).default(60_000),

  // The admin API (api/admin) under /api/v1/admin, on the API's port: bearer tokens of audience
  // `cfd-admin` minted by `npm run admin -- token`. Unset: on under development/test, off otherwise.
  ADMIN_API: z.enum(['on', 'off']).optional(),
  ADMIN_TOKEN_TTL_S: z.coerce.number().int().min(60).max(3600).default(900),

  BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(12),
  SESSION_ABSOLUTE_TTL_S: seconds(7 * 24 * 3600),
  SESSION_IDLE_TTL_S: seconds(24 * 3600),
  /** A sign-in whose password was right waits this long for its second factor (the partial session). */
  MFA_PARTIAL_TTL_S: seconds(5 * 60),
  /** A session counts as recently authenticated (sensitive actions allowed) this long after its last sign-in or /reauth. */
  REAUTH_WINDOW_S: seconds(10 * 60),
  /** A TOTP secret from /mfa/totp/setup waits this long to be enabled. */
  MFA_SETUP_TTL_S: seconds(10 * 60),
  /** The issuer an authenticator app shows next to the account. */
  TOTP_ISSUER: z.string().min(1).max(64).default('CFD Broker'),
  /**
   * WebAuthn (passkeys): the relying party id (a registrable domain, e.g. `broker.example`) and the
   * origins a browser may present. Empty: derived from WEB_ORIGINS (the first origin's host; every
   * web origin on that host or below it).
   */
  WEBAUTHN_RP_ID: z.string().max(253).optional(),
  WEBAUTHN_ORIGINS: z.string().optional().transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)),
  /** A passkey challenge (registration or sign-in) is good this long, once. */
  WEBAUTHN_CHALLENGE_TTL_S: seconds(5 * 60),

  CODE_TTL_S: seconds(600),
  SIGNUP_WINDOW_S: seconds(24 * 3600),
  PASSWORD_RESET_WINDOW_S: seconds(3600),
  EMAIL_UNDO_WINDOW_S: seconds(72 * 3600),
  ACCOUNT_CLOSURE_GRACE_S: seconds(7 * 24 * 3600),
  RESEND_COOLDOWN_S: seconds(60),
  RESEND_MAX_PER_HOUR: z.coerce.number().int().positive().default(5),
  MAX_CODE_ATTEMPTS: z.coerce.number().int().positive().default(5),
  LOCKOUT_S: seconds(15 * 60),
  EMAIL_RETRY_BUDGET_S: seconds(6 * 3600),
  EMAIL_RETRY_MAX_ATTEMPTS: z.coerce.number().int().positive().default(60),
  MAIL_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(16),
  /** Workflows the worker keeps in memory between tasks (Temporal's sticky cache); an evicted one is replayed from its history when its next task comes. */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).default(1000),

  RATE_SIGNIN_FAIL_PER_EMAIL_IP: z.coerce.number().int().positive().default(5),
  RATE_SIGNIN_FAIL_PER_EMAIL_DAY: z.coerce.number().int().positive().default(100),
  RATE_SIGNIN_FAIL_PER_IP_DAY: z.coerce.number().int().positive().default(200),
  RATE_SIGNIN_FAIL_PER_DEVICE: z.coerce.number().int().positive().default(10),
  DEVICE_COOKIE_TTL_S: seconds(180 * 24 * 3600),
  RATE_VERIFY_PER_EMAIL_DAY: z.coerce.number().int().positive().default(20),
  RATE_SIGNUP_PER_IP_HOUR: z.coerce.number().int().positive().default(30),
  RATE_SIGNUP_PER_EMAIL_HOUR: z.coerce.number().int().positive().default(10),
  RATE_VERIFY_PER_IP_15MIN: z.coerce.number().int().positive().default(60),
  RATE_MFA_FAIL_PER_USER_15MIN: z.coerce.number().int().positive().default(5),
  RATE_LIMITS_ENABLED: bool(true),
  RATE_LIMIT_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,32}$/).default('rl'),

  // Kafka message security (common/kafka/envelope-security.ts): keyrings `id:secret[,id:secret]`,
  // the first signs/encrypts, all verify/decrypt. Outside production they default to keys derived
  // from HMAC_KEY / SEALING_KEY.
  KAFKA_REQUEST_MAC_KEYS: z.string().optional(),
  KAFKA_REPLY_MAC_KEYS: z.string().optional(),
  KAFKA_PAYLOAD_KEYS: z.string().optional(),
  KAFKA_MESSAGE_MAX_AGE_S: z.coerce.number().int().min(5).max(3600).default(300),

  // Auth events (common/events/): Ed25519 signing keys of the DB processor's relay, `id:<32-byte
  // seed, base64url>[,...]`, the first signs; required in production, derived from HMAC_KEY otherwise.
  KAFKA_EVENT_SIGNING_KEYS: z.string().optional(),
  /** How often the relay looks for unsent outbox rows when the last look found none. */
  EVENT_RELAY_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(200),
  EVENT_RELAY_BATCH: z.coerce.number().int().min(1).max(1000).default(100),
  /** Sent outbox rows are deleted after this long (the topic keeps the events). */
  OUTBOX_SENT_RETENTION_S: seconds(7 * 24 * 3600),
});

export type Config = Readonly<
  Omit<z.infer<typeof schema>, 'JWT_SECRET' | 'HMAC_KEY' | 'SEALING_KEY'> & {
    JWT_SECRET: string;
    HMAC_KEY: string;
    SEALING_KEY: string;
    isProduction: boolean;
    devSecretsAllowed: boolean;
  }
>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment once. Secrets have development defaults only when NODE_ENV is exactly
 * `development` or `test`; otherwise (production, or NODE_ENV unset) they are required, at least
 * 32 characters, and must not be the development values, so a deployment that forgot NODE_ENV
 * refuses to start instead of signing sessions with a key published in this repository.
 * Called without an argument it reads process.env after adding the checkout's `.env` to it
 * (common/env-file.js, the loader scripts/lib/env.sh uses too), so every entry point sees the same
 * settings as the shell scripts.
 */
export function loadConfig(env?: NodeJS.ProcessEnv): Config {
  if (env === undefined) {
    applyDotenv();
    env = process.env;
  }
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  const isProduction = c.NODE_ENV === 'production';
  const devSecretsAllowed = c.NODE_ENV === 'development' || c.NODE_ENV === 'test';
  const where = c.NODE_ENV ? c.NODE_ENV : 'an unset NODE_ENV (set NODE_ENV=development for local work)';
  const strong = (name: string, value: string) => {
    if (value.length < 32 || (Object.values(DEV_SECRETS) as string[]).includes(value) || new Set(value).size < 10) {
      throw new ConfigError(`${name} is too weak for ${c.NODE_ENV ?? 'production'} (use at least 32 random characters)`);
    }
  };
  const secret = (name: keyof typeof DEV_SECRETS): string => {
    const value = c[name];
    if (devSecretsAllowed) return value || DEV_SECRETS[name];
    if (!value) throw new ConfigError(`${name} is required in ${where}`);
    strong(name, value);
    return value;
  };
  if (!devSecretsAllowed) {
    c.JWT_PREVIOUS_SECRETS.forEach((v) => strong('JWT_PREVIOUS_SECRETS', v));
    c.SEALING_PREVIOUS_KEYS.forEach((v) => strong('SEALING_PREVIOUS_KEYS', v));
  }
  const secrets = { JWT_SECRET: secret('JWT_SECRET'), HMAC_KEY: secret('HMAC_KEY'), SEALING_KEY: secret('SEALING_KEY') };
  for (const name of ['KAFKA_REQUEST_MAC_KEYS', 'KAFKA_REPLY_MAC_KEYS', 'KAFKA_PAYLOAD_KEYS', 'TEMPORAL_PAYLOAD_KEYS'] as const) {
    const value = c[name];
    if (!devSecretsAllowed && !value) throw new ConfigError(`${name} is required in ${where}`);
    try {
      if (value) parseKeyRing(name, value, devSecretsAllowed ? 1 : 32);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  if (!devSecretsAllowed && c.KAFKA_SASL_MECHANISM !== 'none' && !c.KAFKA_SASL_PASSWORD) {
    throw new ConfigError(`KAFKA_SASL_PASSWORD is required in ${where} (this process's Kafka password; or KAFKA_SASL_MECHANISM=none)`);
  }
  if (c.ACCESS_TOKEN_AUDIENCES.length === 0) throw new ConfigError('ACCESS_TOKEN_AUDIENCES must name at least one service');
  if (c.SIGNING_KEY_REFRESH_MS > (c.SIGNING_KEY_PUBLISH_LEAD_S * 1000) / 4) {
    // An API that learns of a new key later than its JWKS cache can hide it would sign before consumers see it.
    throw new ConfigError('SIGNING_KEY_REFRESH_MS must be at most a quarter of SIGNING_KEY_PUBLISH_LEAD_S');
  }
  return Object.freeze({
    ...c,
    ...secrets,
    ADMIN_API: c.ADMIN_API ?? (devSecretsAllowed ? 'on' : 'off'),
    isProduction,
    /** NODE_ENV is exactly development or test: development secrets and Kafka passwords apply. */
    devSecretsAllowed,
  });
}

/** Every variable this module reads; `.env.example` documents each (a test checks). */
export const CONFIG_KEYS = Object.keys(schema.shape) as readonly string[];
