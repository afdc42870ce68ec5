import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../activities';
import { ALL_SEARCH_ATTRIBUTES } from '../../temporal-config/dev-server';
import { BUNDLE_PATH, installQuietRuntime } from '../../testkit/env';

const SERVER = process.env.TEMPORAL_TEST_SERVER_BIN ?? path.join(process.env.CFD_CACHE || path.join(os.homedir(), '.cache/cfd-auth'), 'bin/temporal-test-server');

/** Temporal's time-skipping test server (fetched by scripts/lib/ensure-test-server.sh) with every search attribute registered. */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  if (!existsSync(SERVER)) throw new Error(`no time-skipping test server at ${SERVER}: run bash scripts/lib/ensure-test-server.sh (npm test does)`);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: SERVER } } });
  const types = temporal.api.enums.v1.IndexedValueType;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((a) => [a.name, a.type === 'Keyword' ? types.INDEXED_VALUE_TYPE_KEYWORD : types.INDEXED_VALUE_TYPE_DATETIME])),
  });
  return env;
}

export interface TimeSkipping {
  /** The environment; set once the describe block's beforeAll has run. */
  readonly env: TestWorkflowEnvironment;
  /** Runs `body` while a worker serves the bundled workflows, with these activities, on a task queue of its own. */
  withWorker<T>(activities: Activities, body: (taskQueue: string) => Promise<T>): Promise<T>;
}

/** A time-skipping server for the enclosing describe block: started before its tests, torn down after them. */
export function useTimeSkipping(): TimeSkipping {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await startTimeSkipping();
  });
  afterAll(async () => {
    await env?.teardown();
  });
  const ready = (): TestWorkflowEnvironment => {
    if (!env) throw new Error('the time-skipping server is not started yet (use it inside a test or a later beforeAll)');
    return env;
  };
  return {
    get env() {
      return ready();
    },
    async withWorker(activities, body) {
      const taskQueue = `timers-${randomUUID()}`;
      const worker = await Worker.create({ connection: ready().nativeConnection, taskQueue, workflowBundle: { codePath: BUNDLE_PATH }, activities });
      return worker.runUntil(body(taskQueue));
    },
  };
}

/** A workflow's result and how much (virtual) time passed from its start to its close, in `unitMs` units. */
export async function runToClose<R>(h: WorkflowHandle, unitMs: number): Promise<{ result: R; elapsed: number }> {
  const result = (await h.result()) as R;
  const desc = await h.describe();
  return { result, elapsed: (desc.closeTime!.getTime() - desc.startTime.getTime()) / unitMs };
}
