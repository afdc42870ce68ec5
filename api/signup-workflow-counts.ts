import type { Client } from '@temporalio/client';
import type { SignupWorkflowCount } from '../common/metrics';
import { SIGNUP_STATUSES } from '../temporal-config';

/**
 * Signup workflows per SignupStatus, running or closed, from Temporal visibility: one count query
 * per status grouped by execution status, answered from a cache at most `maxAgeMs` old so that
 * scrapes do not load the server. Expired, mail_failed and stuck signups have no activity or
 * request to count them at the moment they happen: visibility is where they show.
 */
export function signupWorkflowCounts(temporal: Client, opts: { maxAgeMs?: number; timeoutMs?: number } = {}): () => Promise<SignupWorkflowCount[]> {
  const maxAgeMs = opts.maxAgeMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 3_000;
  let cached: { at: number; rows: SignupWorkflowCount[] } | undefined;
  let inFlight: Promise<SignupWorkflowCount[]> | undefined;

  const load = async (): Promise<SignupWorkflowCount[]> => {
    const perStatus = await temporal.withDeadline(Date.now() + timeoutMs, () =>
      Promise.all(
        SIGNUP_STATUSES.map(async (status) => {
          const { groups } = await temporal.workflow.count(`WorkflowType = 'signupWorkflow' AND SignupStatus = '${status}' GROUP BY ExecutionStatus`);
          let running = 0;
          let closed = 0;
          for (const g of groups) {
            if (String(g.groupValues[0]) === 'Running') running += g.count;
            else closed += g.count;
          }
          return [
            { state: 'running' as const, status, count: running },
            { state: 'closed' as const, status, count: closed },
          ];
        }),
      ),
    );
    return perStatus.flat();
  };

  return async () => {
    if (cached && Date.now() - cached.at < maxAgeMs) return cached.rows;
    inFlight ??= load()
      .then((rows) => {
        cached = { at: Date.now(), rows };
        return rows;
      })
      .finally(() => {
        inFlight = undefined;
      });
    try {
      return await inFlight;
    } catch {
      // Temporal unreachable: the last numbers, or none; the scrape itself still answers.
      return cached?.rows ?? [];
    }
  };
}
