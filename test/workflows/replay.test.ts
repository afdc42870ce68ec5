import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { dataConverter } from '../../temporal-config/payload-codec';
import { keptReleases, valueImports, WORKFLOW_TYPES, workflowSources, workflowSourceHash, type WorkflowTypeName } from '../../scripts/lib/workflow-release';
import { BUNDLE_PATH, installQuietRuntime, testConfig } from '../../testkit/env';
import { findCanaries } from '../support/leaks';

const types = Object.keys(WORKFLOW_TYPES) as WorkflowTypeName[];
const converter = dataConverter(testConfig());
/** Releases each workflow type must keep at least: the signup has shipped a change, the others not yet. */
const MIN_RELEASES: Record<WorkflowTypeName, number> = { signup: 3, 'password-reset': 1, 'password-change': 1, 'email-change': 1, 'email-undo': 1, 'account-closure': 1, 'signin-notice': 1, 'mfa-notice': 1 };
const MIN_SCENARIOS: Record<WorkflowTypeName, number> = { signup: 5, 'password-reset': 4, 'password-change': 1, 'email-change': 3, 'email-undo': 2, 'account-closure': 3, 'signin-notice': 1, 'mfa-notice': 1 };
const everyRelease = types.flatMap((type) => keptReleases(type).map((r) => [`${type} ${r.release}`, { type, ...r }] as const));

function history(dir: string, scenario: string) {
  return { workflowId: scenario, history: JSON.parse(readFileSync(path.join(dir, `${scenario}.json`), 'utf8')) };
}

describe('replay of every kept release of every workflow type', () => {
  beforeAll(() => installQuietRuntime());

  it.each(types)('%s keeps its releases, each with its scenarios', (type) => {
    const releases = keptReleases(type);
    expect(releases.length).toBeGreaterThanOrEqual(MIN_RELEASES[type]);
    for (const r of releases) expect(r.manifest.scenarios.length).toBeGreaterThanOrEqual(MIN_SCENARIOS[type]);
  });

  it.each(types)('the %s workflow sources are those of its newest kept release (a change needs a new release of histories)', (type) => {
    const releases = keptReleases(type);
    const newest = releases[releases.length - 1];
    // Fails when a file of this workflow changed since `npm run histories:record` recorded its newest
    // release: ship the change behind a patch and record the next release (README).
    expect({ type, release: newest.release, sourceHash: workflowSourceHash(type) }).toEqual({ type, release: newest.release, sourceHash: newest.manifest.sourceHash });
  });

  it('a release covers its workflow and what it imports for values, not the other workflows or the index', () => {
    expect(workflowSources('signup')).toEqual([
      'common/failures.ts',
      'temporal-config/index.ts',
      'workflows/releases/signup-v2.workflow.ts',
      'workflows/signup.contract.ts',
      'workflows/signup.workflow.ts',
    ]);
    expect(workflowSources('password-reset')).toEqual(expect.arrayContaining(['workflows/account-flow.ts', 'workflows/password-reset.contract.ts', 'common/failures.ts']));
    expect(workflowSources('password-reset')).not.toContain('workflows/signup.workflow.ts');
    // Type-only imports are erased from the bundle; value imports, multi-line ones included, count.
    expect(valueImports("import type { A } from './a';\nimport { type B } from './b';\nimport {\n  c,\n  type D,\n} from './c';\nexport { e } from './e';\nimport x from 'pkg';")).toEqual(['./c', './e']);
  });

  it.each(everyRelease)('the current code replays every history of %s', async (_name, r) => {
    const results = Worker.runReplayHistories(
      { workflowBundle: { codePath: BUNDLE_PATH }, dataConverter: converter },
      r.manifest.scenarios.map((s) => history(r.dir, s)),
    );
    const failures: string[] = [];
    let count = 0;
    for await (const result of results) {
      count++;
      if (result.error) failures.push(`${r.type} ${r.release}/${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(count).toBe(r.manifest.scenarios.length);
  });

  it.each(everyRelease)('a non-deterministic change is caught on %s', async (_name, r) => {
    await expect(
      Worker.runReplayHistory({ workflowsPath: require.resolve('./nondeterministic'), dataConverter: converter }, history(r.dir, WORKFLOW_TYPES[r.type].probeScenario).history),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('histories hold no password, hash or address, even decoded; only signup v2 leaked addresses in results', () => {
    const canaries = ['recorded history passphrase', '@test.example.com', '$2b$'];
    for (const [, r] of everyRelease) {
      const findings = r.manifest.scenarios.flatMap((s) => findCanaries(JSON.parse(readFileSync(path.join(r.dir, `${s}.json`), 'utf8')), canaries));
      if (r.type === 'signup' && r.release === 'v2') {
        // Release v2 returned the created user (email, name) from an activity and the verify update:
        // the scanner finds it, which also shows it can see through base64 payloads.
        expect(findings.map((f) => f.canary)).toContain('@test.example.com');
        expect(findings.map((f) => f.canary)).not.toContain('recorded history passphrase');
      } else {
        expect({ release: `${r.type} ${r.release}`, findings }).toEqual({ release: `${r.type} ${r.release}`, findings: [] });
      }
    }
  });
});
