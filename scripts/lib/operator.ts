import { Client, Connection } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { loadConfig, type Config } from '../../common/config';
import { connectionOptions } from '../../temporal-config/connection';
import { dataConverter } from '../../temporal-config/payload-codec';

/** What the operator commands (signup-cli, account-cli) share: config, a Temporal client, UI links. */
export async function operatorContext(): Promise<{ config: Config; client: Client; ui: (id: string, runId?: string) => string }> {
  const config = loadConfig();
  const connection = await Connection.connect(connectionOptions(config));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverter(config) });
  const ui = (id: string, runId?: string) =>
    `${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(id)}${runId ? `/${runId}` : ''}`;
  return { config, client, ui };
}

/**
 * A flow's execution and, while it runs, its state query; undefined (exit code 2, said on stdout)
 * when no workflow has that id.
 */
export async function describeFlow<S>(client: Client, workflowId: string, missing: string, query: QueryDefinition<S>) {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await handle.describe().catch(() => undefined);
  if (!desc) {
    console.log(`workflow id: ${workflowId}\n${missing}`);
    process.exitCode = 2;
    return undefined;
  }
  const state = desc.status.name === 'RUNNING' ? await handle.query(query).catch(() => undefined) : undefined;
  return { desc, state };
}
