import { ConfigError, loadConfig } from '../../common/config';

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
    const prod = loadConfig({ NODE_ENV: 'production', JWT_SECRET: strong(), HMAC_KEY: strong(), SEALING_KEY: strong() });
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
    expect(loadConfig({ JWT_SECRET: strong(), HMAC_KEY: strong(), SEALING_KEY: strong() }).isProduction).toBe(false);
  });

  it('previous keys of a rotation must be strong outside development', () => {
    const strong = () => require('node:crypto').randomBytes(32).toString('base64');
    const base = { NODE_ENV: 'production', JWT_SECRET: strong(), HMAC_KEY: strong(), SEALING_KEY: strong() };
    expect(() => loadConfig({ ...base, SEALING_PREVIOUS_KEYS: 'short' })).toThrow(/SEALING_PREVIOUS_KEYS is too weak/);
    expect(() => loadConfig({ ...base, JWT_PREVIOUS_SECRETS: 'short' })).toThrow(/JWT_PREVIOUS_SECRETS is too weak/);
    const old = strong();
    expect(loadConfig({ ...base, SEALING_PREVIOUS_KEYS: `${old}, ${strong()}` }).SEALING_PREVIOUS_KEYS[0]).toBe(old);
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ API_PORT: 'eighty', BCRYPT_COST: '99' })).toThrow(/API_PORT[\s\S]*BCRYPT_COST/);
  });
});
