/**
 * Operator command: find the signup workflow of an email without the email ever being stored.
 *   npm run signup -- find <email>
 *   npm run signup -- stuck [minutes]  (signups in sending_code / creating_user / checking for over 5 minutes,
 *                                       and signups that gave up on mail in the last 24 h)
 */
import { deriveKeys, normaliseEmail, signupWorkflowId } from '../common/crypto';
import { SignupStatusKey, SignupStatusSinceKey } from '../temporal-config';
import { stateQuery } from '../workflows/signup.contract';
import { describeFlow, operatorContext } from './lib/operator';
import { taskQueuePolled } from './lib/task-queues';

async function main(argv: string[]) {
  const [command, arg] = argv;
  const { config, client, ui } = await operatorContext();
  try {
    if (command === 'find' && arg) {
      const workflowId = signupWorkflowId(deriveKeys(config), normaliseEmail(arg));
      const found = await describeFlow(client, workflowId, 'no signup workflow for this email', stateQuery);
      if (!found) return;
      const { desc, state } = found;
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
      const minutes = arg === undefined ? 5 : Number(arg);
      if (!Number.isFinite(minutes) || minutes < 0) throw new Error('usage: npm run signup -- stuck [minutes, default 5]');
      const since = new Date(Date.now() - minutes * 60_000).toISOString();
      // Time in the current state, not age: SignupStatusSince changes with every status. Signups
      // of release v2 have no such attribute and are judged by their start time.
      const query =
        `ExecutionStatus = "Running" AND SignupStatus IN ("sending_code", "creating_user", "checking") AND ` +
        `(SignupStatusSince < "${since}" OR (SignupStatusSince IS NULL AND StartTime < "${since}"))`;
      const hasWorkers = taskQueuePolled(client, config.TEMPORAL_NAMESPACE);
      let n = 0;
      let orphans = 0;
      for await (const wf of client.workflow.list({ query })) {
        // A leftover on a task queue nobody polls (an old test, a retired deployment) is not stuck
        // waiting on SMTP or the database: it waits for a worker that will never come.
        if (!(await hasWorkers(wf.taskQueue))) {
          orphans++;
          continue;
        }
        n++;
        const inState = wf.typedSearchAttributes.get(SignupStatusSinceKey) ?? wf.startTime;
        console.log(`${wf.workflowId}  ${wf.typedSearchAttributes.get(SignupStatusKey)}  since ${inState.toISOString()}  ${ui(wf.workflowId, wf.runId)}`);
      }
      console.log(`${n} stuck signup(s) in the same state for over ${minutes} min` + (orphans ? ` (${orphans} more on task queues without workers, ignored)` : ''));
      const dayAgo = new Date(Date.now() - 24 * 3_600_000).toISOString();
      let failed = 0;
      for await (const wf of client.workflow.list({ query: `SignupStatus = "mail_failed" AND CloseTime > "${dayAgo}"` })) {
        failed++;
        console.log(`${wf.workflowId}  mail_failed  closed ${wf.closeTime?.toISOString()}  ${ui(wf.workflowId, wf.runId)}`);
      }
      console.log(`${failed} signup(s) gave up on mail in the last 24 h`);
      return;
    }
    console.error('usage: npm run signup -- find <email>\n       npm run signup -- stuck [minutes]');
    process.exitCode = 64;
  } finally {
    await client.connection.close();
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`signup: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
