import { readFileSync } from 'node:fs';
import type { Config } from '../common/config';

/**
 * Connection options shared by the client (API, operator CLI) and the worker. Locally a plain
 * connection to the dev server; in production mTLS (cert + key) or an API key (Temporal Cloud).
 */
export function connectionOptions(config: Config) {
  const tls = config.TEMPORAL_TLS_CERT_PATH && config.TEMPORAL_TLS_KEY_PATH
    ? { clientCertPair: { crt: readFileSync(config.TEMPORAL_TLS_CERT_PATH), key: readFileSync(config.TEMPORAL_TLS_KEY_PATH) } }
    : config.TEMPORAL_TLS || config.TEMPORAL_API_KEY
      ? true
      : undefined;
  return {
    address: config.TEMPORAL_ADDRESS,
    tls,
    apiKey: config.TEMPORAL_API_KEY,
    connectTimeout: config.TEMPORAL_CALL_TIMEOUT_MS,
  };
}

export function taskQueue(config: Config, fallback: string): string {
  return config.TEMPORAL_TASK_QUEUE ?? fallback;
}
