import { Runtime, makeTelemetryFilterString, type RuntimeOptions } from '@temporalio/worker';
import path from 'node:path';
import { loadConfig, type Config } from '../common/config';
import { createLogger } from '../common/logger';

export const BUNDLE_PATH = path.resolve(__dirname, '../.data/test/workflow-bundle.js');
export const MAILDEV_URL = process.env.MAILDEV_URL ?? 'http://127.0.0.1:1080';

/** Configuration for in-process instances: port 0 everywhere, quiet logs, given overrides. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    API_PORT: '0',
    WORKER_HEALTH_PORT: '0',
    DB_PROCESSOR_HEALTH_PORT: '0',
    API_METRICS_PORT: '0',
    BCRYPT_COST: process.env.BCRYPT_COST ?? '10',
    ...overrides,
  });
}

export const quietLogger = () => createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

let runtimeInstalled = false;
/** Installs the runtime with `install` (e.g. the worker's own logging) instead of the quiet one: before startSystem. */
export function installRuntimeOnce(install: () => void): void {
  if (runtimeInstalled) throw new Error('the Temporal runtime is installed already (once per test file)');
  runtimeInstalled = true;
  install();
}
/**
 * Runtime.install may run once per module registry (one per jest test file). `metrics`: the
 * worker's Temporal SDK metrics options (workflows/worker.ts temporalMetricsOptions), for a test
 * that scrapes them; it must then be the file's first call.
 */
export function installQuietRuntime(metrics?: NonNullable<RuntimeOptions['telemetryOptions']>['metrics']): void {
  if (runtimeInstalled) {
    if (metrics) throw new Error('the Temporal runtime was installed already, without metrics');
    return;
  }
  runtimeInstalled = true;
  const noop = () => undefined;
  Runtime.install({
    logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop },
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) }, ...(metrics ? { metrics } : {}) },
  });
}

export function uniqueEmail(tag: string): string {
  return `${tag}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}@test.example.com`;
}

export function uniqueIp(): string {
  const b = () => Math.floor(Math.random() * 254) + 1;
  return `10.${b()}.${b()}.${b()}`;
}

/**
 * Limits of every test system: test traffic must not use up the limits of a locally running
 * `npm start` (same Redis), and one suite's signups from 127.0.0.1 must not throttle the next.
 */
export const TEST_RATE_LIMITS = {
  RATE_LIMIT_KEY_PREFIX: 'rl-test',
  RATE_SIGNUP_PER_IP_HOUR: '100000',
  RATE_SIGNUP_PER_EMAIL_HOUR: '1000',
  RATE_VERIFY_PER_IP_15MIN: '100000',
  RATE_SIGNIN_FAIL_PER_IP_DAY: '100000',
};
