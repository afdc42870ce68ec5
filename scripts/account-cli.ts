/**
 * Operator command for the account flows (password reset and change, email change and undo):
 *   npm run account -- find-reset <email>   the password reset of an email (its id is a keyed hash)
 *   npm run account -- stuck [minutes]      flows in checking / sending_code / applying / notifying for over
 *                                           5 minutes, and flows that failed or gave up on mail in the last 24 h
 */
import { deriveKeys, normaliseEmail, passwordResetWorkflowId } from '../common/crypto';
import { AccountFlowStatusKey, AccountFlowStatusSinceKey } from '../temporal-config/account-flows';
import { resetStateQuery } from '../workflows/password-reset.contract';
import { describeFlow, operatorContext } from './lib/operator';
import { taskQueuePolled } from './lib/task-queues';

const USAGE = 'usage: npm run account -- find-reset <email>\n       npm run account -- stuck [minutes]';

async function main(argv: string[]) {
  const [command, arg] = argv;
  const { config, client, ui } = await operatorContext();
  try {
    if (command === 'find-reset' && arg) {
      const workflowId = passwordResetWorkflowId(deriveKeys(config), normaliseEmail(arg));
      const found = await describeFlow(client, workflowId, 'no password reset for this email', resetStateQuery);
      if (!found) return;
      const { desc, state } = found;
      console.log(`workflow id:        ${workflowId}`);
      console.log(`execution:          ${desc.status.name}`);
      console.log(`AccountFlowStatus:  ${desc.typedSearchAttributes.get(AccountFlowStatusKey) ?? '-'}`);
      if (state) console.log(`codes issued:       ${state.codesIssued}`);
      console.log(`started:            ${desc.startTime.toISOString()}`);
      console.log(`Temporal UI:        ${ui(workflowId, desc.runId)}`);
      return;
    }
    if (command === 'stuck') {
      const minutes = arg === undefined ? 5 : Number(arg);
      if (!Number.isFinite(minutes) || minutes < 0) throw new Error(USAGE);
      const since = new Date(Date.now() - minutes * 60_000).toISOString();
      const query = `ExecutionStatus = "Running" AND AccountFlowStatus IN ("checking", "sending_code", "applying", "notifying") AND AccountFlowStatusSince < "${since}"`;
      const hasWorkers = taskQueuePolled(client, config.TEMPORAL_NAMESPACE);
      let n = 0;
      let orphans = 0;
      for await (const wf of client.workflow.list({ query })) {
        if (!(await hasWorkers(wf.taskQueue))) {
          orphans++;
          continue;
        }
        n++;
        console.log(`${wf.type}  ${wf.workflowId}  ${wf.typedSearchAttributes.get(AccountFlowStatusKey)}  since ${wf.typedSearchAttributes.get(AccountFlowStatusSinceKey)?.toISOString()}  ${ui(wf.workflowId, wf.runId)}`);
      }
      console.log(`${n} account flow(s) in the same state for over ${minutes} min` + (orphans ? ` (${orphans} more on task queues without workers, ignored)` : ''));
      const dayAgo = new Date(Date.now() - 24 * 3_600_000).toISOString();
      let failed = 0;
      for await (const wf of client.workflow.list({ query: `AccountFlowStatus IN ("failed", "mail_failed") AND CloseTime > "${dayAgo}"` })) {
        failed++;
        console.log(`${wf.type}  ${wf.workflowId}  ${wf.typedSearchAttributes.get(AccountFlowStatusKey)}  closed ${wf.closeTime?.toISOString()}  ${ui(wf.workflowId, wf.runId)}`);
      }
      console.log(`${failed} account flow(s) failed or gave up on mail in the last 24 h`);
      return;
    }
    console.error(USAGE);
    process.exitCode = 64;
  } finally {
    await client.connection.close();
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`account: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
