import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../../temporal-config/dev-server';
import { installQuietRuntime } from '../../testkit/env';

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
