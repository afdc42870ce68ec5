/**
 * Operator command: find the signup workflow of an email without the email ever being stored.
 *   npm run signup -- find <email>
 *   npm run signup -- stuck            (signups waiting on SMTP or the DB for over 5 minutes)
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../common/config';
import { deriveKeys, normaliseEmail, signupWorkflowId } from '../common/crypto';
import { SignupStatusKey } from '../temporal-config';
import { connectionOptions } from '../temporal-config/connection';
import { dataConverter } from '../temporal-config/payload-codec';
import { stateQuery } from '../workflows/signup.contract';

async function main(argv: string[]) {
  const [command, arg] = argv;
  const config = loadConfig();
  const connection = await Connection.connect(connectionOptions(config));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverter(config) });
  const ui = (id: string, runId?: string) =>
    `${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(id)}${runId ? `/${runId}` : ''}`;
  try {
    if (command === 'find' && arg) {
      const workflowId = signupWorkflowId(deriveKeys(config), normaliseEmail(arg));
      const handle = client.workflow.getHandle(workflowId);
      const desc = await handle.describe().catch(() => undefined);
      if (!desc) {
        console.log(`workflow id: ${workflowId}\nno signup workflow for this email`);
        process.exitCode = 2;
        return;
      }
      const state = desc.status.name === 'RUNNING' ? await handle.query(stateQuery).catch(() => undefined) : undefined;
      console.log(`workflow id:   ${workflowId}`);
      console.log(`run id:        ${desc.runId}`);
      console.log(`execution:     ${desc.status.name}`);
      console.log(`SignupStatus:  ${desc.typedSearchAttributes.get(SignupStatusKey) ?? '-'}`);
      if (state) console.log(`attempts:      ${state.attempts}   codes issued: ${state.codesIssued}`);
      console.log(`started:       ${desc.startTime.toISOString()}`);
      console.log(`Temporal UI:   ${ui(workflowId, desc.runId)}`);
      return;
    }
    if (command === 'stuck') {
      const since = new Date(Date.now() - 5 * 60_000).toISOString();
      const query = `ExecutionStatus = "Running" AND SignupStatus IN ("sending_code", "creating_user", "checking") AND StartTime < "${since}"`;
      let n = 0;
      for await (const wf of client.workflow.list({ query })) {
        n++;
        console.log(`${wf.workflowId}  ${wf.typedSearchAttributes.get(SignupStatusKey)}  started ${wf.startTime.toISOString()}  ${ui(wf.workflowId, wf.runId)}`);
      }
      console.log(`${n} stuck signup(s)   query: ${query}`);
      return;
    }
    console.error('usage: npm run signup -- find <email>\n       npm run signup -- stuck');
    process.exitCode = 64;
  } finally {
    await connection.close();
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`signup: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
