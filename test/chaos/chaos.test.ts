/**
 * The fastest fault-injection scenarios of `npm run chaos`, inside npm test: the real API, worker
 * and DB processor as separate OS processes, one of them killed with SIGKILL while N signups (or
 * N accounts' password resets and email changes) are in flight; afterwards every signup verifies
 * and Postgres holds exactly N accounts (every reset and email change is applied exactly once: the
 * new password or address signs in, the old one does not, the sessions and notices are exactly the
 * expected ones), every process that was ready before the fault is ready again, and a brand-new
 * signup (or password reset) works. CHAOS_TEST_N changes N for signups (default 30),
 * CHAOS_TEST_ACCOUNT_N for accounts (default 14: two per stage).
 */
import { runAnyScenario } from '../../chaos/account-harness';
import type { FaultResult } from '../../chaos/harness';
import { loadStackEnv } from '../../testkit/stack';
import { FAST_SCENARIOS, SCENARIOS } from '../../chaos/scenarios';
import { ChaosSystem } from '../../chaos/system';

const N = Number(process.env.CHAOS_TEST_N ?? 30);
const ACCOUNT_N = Number(process.env.CHAOS_TEST_ACCOUNT_N ?? 14);
const SCENARIO_BUDGET_MS = 170_000;

/** What must hold after the scenario, per workload: the result's fields and their expected values. */
const EXPECTED = {
  signup: (n: number) => ({ created: n, verified: n, signin_ok: n, usable_code: n, prefault_code_refused: 0 }),
  account: (n: number) => ({ applied: n, double_applied: 0, signin_ok: n, sessions_ok: n, notices_ok: n, prefault_code_refused: 0 }),
};

describe('chaos: kill -9 of our processes loses and duplicates nothing', () => {
  const stack = loadStackEnv();
  let sys: ChaosSystem;
  const lines: string[] = [];
  const log = (m: string) => lines.push(`${new Date().toISOString().slice(11, 19)} ${m}`);

  beforeAll(async () => {
    sys = await ChaosSystem.create(stack);
    await sys.ensureUp();
  }, 240_000);

  afterAll(async () => {
    await sys?.close();
  }, 60_000);

  for (const name of FAST_SCENARIOS) {
    const scenario = SCENARIOS.find((s) => s.name === name)!;
    const workload = scenario.workload ?? 'signup';
    const n = workload === 'account' ? ACCOUNT_N : N;
    it(
      `${name}: ${scenario.fault}`,
      async () => {
        lines.length = 0;
        const result: FaultResult = await runAnyScenario({ sys, stack, quick: true, log }, scenario, {
          n,
          quick: true,
          hardDeadline: Date.now() + SCENARIO_BUDGET_MS,
        });
        const expected = {
          ...EXPECTED[workload](n),
          duplicates: 0,
          lost: 0,
          other_5xx: 0,
          anomalies: [],
          process_exits: [],
          not_ready_after_fault: [],
          fresh_flow: 'ok',
          error: undefined,
        };
        const fields = result as unknown as Record<string, unknown>;
        const summary = Object.fromEntries(Object.keys(expected).map((k) => [k, k === 'other_5xx' ? result.client_errors.other_5xx : fields[k]]));
        if (!result.ok) console.log(`${name} failed:\n${lines.join('\n')}\n${JSON.stringify(fields.details ?? [], null, 1).slice(0, 4000)}`);
        expect(summary).toEqual(expected);
        expect(result.ok).toBe(true);
      },
      SCENARIO_BUDGET_MS + 10_000,
    );
  }
});
