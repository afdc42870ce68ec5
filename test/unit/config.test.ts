import { ConfigError, loadConfig } from '../../common/config';
import { devKafkaPassword, kafkaSasl } from '../../common/kafka/identity';

describe('config', () => {
  it('gives development defaults and freezes the result', () => {
    const c = loadConfig({ NODE_ENV: 'development' });
    expect(c.API_PORT).toBe(3001);
    expect(c.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(c.JWT_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('refuses to start in production without secrets, or with weak or development ones', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET is required/);
    const dev = loadConfig({ NODE_ENV: 'development' });
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: dev.JWT_SECRET, HMAC_KEY: 'h'.repeat(40), SEALING_KEY: 's'.repeat(40) })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short', HMAC_KEY: 'x', SEALING_KEY: 'y' })).toThrow(/too weak/);
    const strong = () => require('node:crypto').randomBytes(32).toString('base64');
    const kafkaKeys = () => ({ KAFKA_REQUEST_MAC_KEYS: `k2:${strong()},k1:${strong()}`, KAFKA_REPLY_MAC_KEYS: `k1:${strong()}`, KAFKA_PAYLOAD_KEYS: `k1:${strong()}`, TEMPORAL_PAYLOAD_KEYS: `t1:${strong()}`, KAFKA_SASL_PASSWORD: strong() });
    const prod = loadConfig({ NODE_ENV: 'production', JWT_SECRET: strong(), HMAC_KEY: strong(), SEALING_KEY: strong(), ...kafkaKeys() });
    expect(prod.isProduction).toBe(true);
  });

  it('uses development secrets only when NODE_ENV is exactly development or test', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).JWT_SECRET).toBe(loadConfig({ NODE_ENV: 'development' }).JWT_SECRET);
    // An unset NODE_ENV (a deployment that forgot it) must not fall back to the published secrets.
    expect(() => loadConfig({})).toThrow(/JWT_SECRET is required in an unset NODE_ENV/);
    expect(() => loadConfig({ NODE_ENV: 'staging' })).toThrow(ConfigError);
    const dev = loadConfig({ NODE_ENV: 'development' });
    expect(() => loadConfig({ JWT_SECRET: dev.JWT_SECRET, HMAC_KEY: dev.HMAC_KEY, SEALING_KEY: dev.SEALING_KEY })).toThrow(/too weak/);
    const strong = () => require('node:crypto').randomBytes(32).toString('base64');
    const kafka = { KAFKA_REQUEST_MAC_KEYS: `k1:${strong()}`, KAFKA_REPLY_MAC_KEYS: `k1:${strong()}`, KAFKA_PAYLOAD_KEYS: `k1:${strong()}`, TEMPORAL_PAYLOAD_KEYS: `t1:${strong()}`, KAFKA_SASL_PASSWORD: strong() };
    expect(loadConfig({ JWT_SECRET: strong(), HMAC_KEY: strong(), SEALING_KEY: strong(), ...kafka }).isProduction).toBe(false);
  });

  it('previous keys of a rotation must be strong outside development', () => {
    const strong = () => require('node:crypto').randomBytes(32).toString('base64');
    const base = {
      NODE_ENV: 'production', JWT_SECRET: strong(), HMAC_KEY: strong(), SEALING_KEY: strong(),
      KAFKA_REQUEST_MAC_KEYS: `k1:${strong()}`, KAFKA_REPLY_MAC_KEYS: `k1:${strong()}`, KAFKA_PAYLOAD_KEYS: `k1:${strong()}`, TEMPORAL_PAYLOAD_KEYS: `t1:${strong()}`, KAFKA_SASL_PASSWORD: strong(),
    };
    expect(() => loadConfig({ ...base, SEALING_PREVIOUS_KEYS: 'short' })).toThrow(/SEALING_PREVIOUS_KEYS is too weak/);
    expect(() => loadConfig({ ...base, JWT_PREVIOUS_SECRETS: 'short' })).toThrow(/JWT_PREVIOUS_SECRETS is too weak/);
    const old = strong();
    expect(loadConfig({ ...base, SEALING_PREVIOUS_KEYS: `${old}, ${strong()}` }).SEALING_PREVIOUS_KEYS[0]).toBe(old);
  });

  it('refuses production without Kafka keyrings, with a weak key or a malformed keyring', () => {
    const strong = () => require('node:crypto').randomBytes(32).toString('base64');
    const base = { NODE_ENV: 'production', JWT_SECRET: strong(), HMAC_KEY: strong(), SEALING_KEY: strong() };
    const keys = { KAFKA_REQUEST_MAC_KEYS: `k1:${strong()}`, KAFKA_REPLY_MAC_KEYS: `k1:${strong()}`, KAFKA_PAYLOAD_KEYS: `k1:${strong()}`, TEMPORAL_PAYLOAD_KEYS: `t1:${strong()}`, KAFKA_SASL_PASSWORD: strong() };
    expect(() => loadConfig({ ...base, ...keys, KAFKA_REPLY_MAC_KEYS: '' })).toThrow(/KAFKA_REPLY_MAC_KEYS is required in production/);
    expect(() => loadConfig({ ...base, ...keys, TEMPORAL_PAYLOAD_KEYS: '' })).toThrow(/TEMPORAL_PAYLOAD_KEYS is required in production/);
    // Kafka SASL is on by default: production needs this process's password, or SASL switched off explicitly.
    expect(() => loadConfig({ ...base, ...keys, KAFKA_SASL_PASSWORD: '' })).toThrow(/KAFKA_SASL_PASSWORD is required in production/);
    expect(loadConfig({ ...base, ...keys, KAFKA_SASL_PASSWORD: '', KAFKA_SASL_MECHANISM: 'none' }).KAFKA_SASL_MECHANISM).toBe('none');
    expect(() => loadConfig({ ...base, ...keys, TEMPORAL_PAYLOAD_KEYS: 't1:short-secret' })).toThrow(/TEMPORAL_PAYLOAD_KEYS: key t1 is too weak/);
    expect(() => loadConfig({ ...base, ...keys, KAFKA_PAYLOAD_KEYS: `k2:${strong()},k1:short-secret` })).toThrow(/KAFKA_PAYLOAD_KEYS: key k1 is too weak/);
    expect(() => loadConfig({ ...base, ...keys, KAFKA_REQUEST_MAC_KEYS: strong() })).toThrow(/KAFKA_REQUEST_MAC_KEYS: every entry must be id:secret/);
    expect(() => loadConfig({ ...base, ...keys, KAFKA_REQUEST_MAC_KEYS: `k1:${strong()},k1:${strong()}` })).toThrow(/appears twice/);
    expect(loadConfig({ ...base, ...keys }).KAFKA_PAYLOAD_KEYS).toBe(keys.KAFKA_PAYLOAD_KEYS);
  });

  it('refuses a signing-key refresh slower than a quarter of the publication lead', () => {
    const env = { NODE_ENV: 'test' } as NodeJS.ProcessEnv;
    expect(loadConfig({ ...env, SIGNING_KEY_PUBLISH_LEAD_S: '8', SIGNING_KEY_REFRESH_MS: '2000' }).SIGNING_KEY_REFRESH_MS).toBe(2000);
    expect(() => loadConfig({ ...env, SIGNING_KEY_PUBLISH_LEAD_S: '8', SIGNING_KEY_REFRESH_MS: '2001' })).toThrow(/SIGNING_KEY_REFRESH_MS/);
    expect(loadConfig(env).ACCESS_TOKEN_AUDIENCES).toEqual(['trading', 'payments', 'kyc']);
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ API_PORT: 'eighty', BCRYPT_COST: '99' })).toThrow(/API_PORT[\s\S]*BCRYPT_COST/);
  });
});

describe('Kafka identity of a process', () => {
  it('is cfd-<role> with the development password only where development secrets apply', () => {
    const dev = loadConfig({ NODE_ENV: 'development' });
    expect(kafkaSasl(dev, 'api')).toEqual({ mechanism: 'scram-sha-256', username: 'cfd-api', password: devKafkaPassword('api') });
    expect(kafkaSasl(dev, 'db-processor')).toMatchObject({ username: 'cfd-db-processor', password: devKafkaPassword('db-processor') });
    expect(kafkaSasl(loadConfig({ NODE_ENV: 'test', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw' }), 'api')).toMatchObject({ username: 'svc', password: 'pw' });
    expect(kafkaSasl(loadConfig({ NODE_ENV: 'test', KAFKA_SASL_MECHANISM: 'none' }), 'api')).toBeUndefined();
  });
});
