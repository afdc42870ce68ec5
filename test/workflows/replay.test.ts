import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { BUNDLE_PATH, installQuietRuntime } from '../support/env';

const DIR = path.resolve(__dirname, '../histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

function history(file: string) {
  return { workflowId: path.basename(file, '.json'), history: JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) };
}

describe('replay of recorded signup histories', () => {
  beforeAll(() => installQuietRuntime());

  it('has the five recorded scenarios', () => {
    expect(files).toEqual(['existing-account.json', 'expired.json', 'happy.json', 'resend.json', 'wrong-code.json']);
  });

  it('the current workflow code replays every recorded history', async () => {
    const results = Worker.runReplayHistories({ workflowBundle: { codePath: BUNDLE_PATH } }, files.map(history));
    const failures: string[] = [];
    let count = 0;
    for await (const r of results) {
      count++;
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(count).toBe(files.length);
  });

  it('the recorded histories hold no password, code or plaintext address', () => {
    for (const f of files) {
      const text = readFileSync(path.join(DIR, f), 'utf8');
      expect(text).not.toContain('recorded history passphrase');
      expect(text).not.toMatch(/history-[a-z]+\.[a-z0-9]+\.[a-z0-9]+@test\.example\.com/);
      expect(text).not.toMatch(/\$2[aby]\$\d\d\$/);
    }
  });

  it('a non-deterministic change to the workflow is caught', async () => {
    await expect(
      Worker.runReplayHistory({ workflowsPath: require.resolve('./nondeterministic') }, history('happy.json').history),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
