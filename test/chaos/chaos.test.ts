/**
 * The fastest fault-injection scenarios of `npm run chaos`, inside npm test: the real API, worker
 * and DB processor as separate OS processes, one of them killed with SIGKILL while N signups are
 * in flight; afterwards every signup verifies, Postgres holds exactly N accounts, every process
 * that was ready before the fault is ready again, and a brand-new signup, verify and sign-in work.
 * CHAOS_TEST_N changes N (default 30).
 */
import { runScenario, type ScenarioResult } from '../../chaos/harness';
import { loadStackEnv } from '../../testkit/stack';
import { FAST_SCENARIOS, SCENARIOS } from '../../chaos/scenarios';
import { ChaosSystem } from '../../chaos/system';

const N = Number(process.env.CHAOS_TEST_N ?? 30);
const SCENARIO_BUDGET_MS = 170_000;

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
    it(
      `${name}: ${scenario.fault}`,
      async () => {
        lines.length = 0;
        const result: ScenarioResult = await runScenario({ sys, stack, quick: true, log }, scenario, {
          n: N,
          quick: true,
          hardDeadline: Date.now() + SCENARIO_BUDGET_MS,
        });
        const summary = {
          created: result.created,
          duplicates: result.duplicates,
          lost: result.lost,
          verified: result.verified,
          signin_ok: result.signin_ok,
          usable_code: result.usable_code,
          prefault_code_refused: result.prefault_code_refused,
          anomalies: result.anomalies,
          process_exits: result.process_exits,
          not_ready_after_fault: result.not_ready_after_fault,
          fresh_flow: result.fresh_flow,
          error: result.error,
        };
        const expected = { created: N, duplicates: 0, lost: 0, verified: N, signin_ok: N, usable_code: N, prefault_code_refused: 0, anomalies: [], process_exits: [], not_ready_after_fault: [], fresh_flow: 'ok', error: undefined };
        if (!result.ok) console.log(`${name} failed:\n${lines.join('\n')}\n${JSON.stringify(result.details ?? [], null, 1).slice(0, 4000)}`);
        expect(summary).toEqual(expected);
        expect(result.ok).toBe(true);
      },
      SCENARIO_BUDGET_MS + 10_000,
    );
  }
});
