import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { dataConverter } from '../../temporal-config/payload-codec';
import { keptReleases, workflowSourceHash } from '../../scripts/lib/workflow-release';
import { BUNDLE_PATH, installQuietRuntime, testConfig } from '../../testkit/env';
import { findCanaries } from '../support/leaks';

const releases = keptReleases();
const converter = dataConverter(testConfig());

function history(dir: string, scenario: string) {
  return { workflowId: scenario, history: JSON.parse(readFileSync(path.join(dir, `${scenario}.json`), 'utf8')) };
}

describe('replay of every kept release of the signup workflow', () => {
  beforeAll(() => installQuietRuntime());

  it('keeps at least two released versions, each with its scenarios', () => {
    expect(releases.map((r) => r.release).length).toBeGreaterThanOrEqual(2);
    for (const r of releases) expect(r.manifest.scenarios.length).toBeGreaterThanOrEqual(5);
  });

  it('the workflow sources are those of the newest kept release (a change needs a new release of histories)', () => {
    const newest = releases[releases.length - 1];
    // Fails when a workflow file changed since `npm run histories:record -- vN` recorded the newest
    // release: ship the change behind a patch and record the next release (README).
    expect({ release: newest.release, sourceHash: workflowSourceHash() }).toEqual({ release: newest.release, sourceHash: newest.manifest.sourceHash });
  });

  it.each(releases.map((r) => [r.release, r]))('the current code replays every history of release %s', async (_name, r) => {
    const results = Worker.runReplayHistories(
      { workflowBundle: { codePath: BUNDLE_PATH }, dataConverter: converter },
      r.manifest.scenarios.map((s) => history(r.dir, s)),
    );
    const failures: string[] = [];
    let count = 0;
    for await (const result of results) {
      count++;
      if (result.error) failures.push(`${r.release}/${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(count).toBe(r.manifest.scenarios.length);
  });

  it.each(releases.map((r) => [r.release, r]))('a non-deterministic change is caught on release %s', async (_name, r) => {
    await expect(
      Worker.runReplayHistory({ workflowsPath: require.resolve('./nondeterministic'), dataConverter: converter }, history(r.dir, 'happy').history),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('histories of v3 and later hold no password, hash or address, even decoded; v2 leaked addresses in results', () => {
    const canaries = ['recorded history passphrase', '@test.example.com', '$2b$'];
    for (const r of releases) {
      const findings = r.manifest.scenarios.flatMap((s) => findCanaries(JSON.parse(readFileSync(path.join(r.dir, `${s}.json`), 'utf8')), canaries));
      if (r.release === 'v2') {
        // Release v2 returned the created user (email, name) from an activity and the verify update:
        // the scanner finds it, which also shows it can see through base64 payloads.
        expect(findings.map((f) => f.canary)).toContain('@test.example.com');
        expect(findings.map((f) => f.canary)).not.toContain('recorded history passphrase');
      } else {
        expect(findings).toEqual([]);
      }
    }
  });
});
