import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { start as startApi, type ApiHandle } from '../api/main';
import { start as startDbProcessor, type DbProcessor } from '../db-processor/main';
import { start as startWorker, type WorkerHandle } from '../workflows/worker';
import { connectionOptions } from '../temporal-config/connection';
import { dataConverter } from '../temporal-config/payload-codec';
import { BUNDLE_PATH, installQuietRuntime, quietLogger, testConfig, TEST_RATE_LIMITS } from './env';
import { ApiClient } from './http';

export interface System {
  config: Config;
  apiUrl: string;
  apiPort: number;
  taskQueue: string;
  api: ApiHandle;
  temporal: Client;
  worker?: WorkerHandle;
  dbProcessor?: DbProcessor;
  startWorker(): Promise<WorkerHandle>;
  stopWorker(): Promise<void>;
  startDbProcessor(): Promise<DbProcessor>;
  stopDbProcessor(): Promise<void>;
  close(): Promise<void>;
}

export interface SystemOptions {
  env?: Record<string, string>;
  webOrigins?: string[];
  withWorker?: boolean;
  withDbProcessor?: boolean;
  logger?: Logger;
  /** Settings of the worker alone (e.g. its Redis or SMTP behind a test proxy). */
  workerEnv?: Record<string, string>;
  /** Settings of the DB processor alone (e.g. its own Kafka address while the API's is behind a proxy). */
  dbProcessorEnv?: Record<string, string>;
}

/**
 * The whole backend in-process against the real stack: DB processor, a worker on a task queue of
 * its own (so tests never pick up each other's workflows), and the API on a free port.
 */
export async function startSystem(opts: SystemOptions = {}): Promise<System> {
  installQuietRuntime();
  const env = { ...opts.env };
  if (opts.webOrigins) env.WEB_ORIGINS = opts.webOrigins.join(',');
  const overrides = { ...TEST_RATE_LIMITS, ...env };
  const config = testConfig(overrides);
  const taskQueue = `test-${randomUUID()}`;
  const logger = opts.logger ?? quietLogger();
  const temporalConnection = Connection.lazy(connectionOptions(config));
  const temporal = new Client({ connection: temporalConnection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverter(config) });

  const system: System = {
    config,
    taskQueue,
    temporal,
    apiUrl: '',
    apiPort: 0,
    api: undefined as unknown as ApiHandle,
    async startWorker() {
      const workerConfig = opts.workerEnv ? testConfig({ ...overrides, ...opts.workerEnv }) : config;
      system.worker = await startWorker(workerConfig, { workflowBundle: { codePath: BUNDLE_PATH }, taskQueue, logger });
      return system.worker;
    },
    async stopWorker() {
      await system.worker?.close();
      system.worker = undefined;
    },
    async startDbProcessor() {
      const dbConfig = opts.dbProcessorEnv ? testConfig({ ...overrides, ...opts.dbProcessorEnv }) : config;
      system.dbProcessor = await startDbProcessor(dbConfig, logger);
      return system.dbProcessor;
    },
    async stopDbProcessor() {
      await system.dbProcessor?.close();
      system.dbProcessor = undefined;
    },
    async close() {
      await system.api?.close();
      await system.stopWorker();
      await system.stopDbProcessor();
      await temporalConnection.close();
    },
  };
  if (opts.withDbProcessor !== false) await system.startDbProcessor();
  if (opts.withWorker !== false) await system.startWorker();
  system.api = await startApi(config, { logger, taskQueue });
  system.apiPort = system.api.port;
  system.apiUrl = `${system.api.url}/api/v1/auth`;
  return system;
}

/**
 * The whole backend for the tests of one describe block (jest): started before them, closed after.
 * `ready` receives the running system (and a client of its API) for the block's variables.
 */
export function useSystem(opts: SystemOptions, ready: (sys: System, api: ApiClient) => void): void {
  let sys: System | undefined;
  beforeAll(async () => {
    sys = await startSystem(opts);
    ready(sys, new ApiClient(sys.apiUrl));
  });
  afterAll(async () => {
    await sys?.close();
  });
}
