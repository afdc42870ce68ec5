import { Client, Connection } from '@temporalio/client';
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
