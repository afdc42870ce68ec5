import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * What a workflow release is made of: every file bundled into the workflow sandbox. A change to
 * any of them is a workflow change, and needs a new release of recorded histories (README,
 * "Releasing a workflow change").
 */
export const ROOT = path.resolve(__dirname, '../..');
export const HISTORIES_DIR = path.join(ROOT, 'test/histories');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

export function workflowSources(): string[] {
  const workflows = filesUnder(path.join(ROOT, 'workflows')).filter((f) => f.endsWith('.ts') && path.basename(f) !== 'worker.ts');
  return [...workflows, path.join(ROOT, 'common/failures.ts'), path.join(ROOT, 'temporal-config/index.ts')]
    .map((f) => path.relative(ROOT, f).split(path.sep).join('/'))
    .sort();
}

/** sha256 over the workflow sources' paths and contents (line endings normalised). */
export function workflowSourceHash(): string {
  const h = createHash('sha256');
  for (const rel of workflowSources()) {
    h.update(rel + '\0');
    h.update(readFileSync(path.join(ROOT, rel), 'utf8').replace(/\r\n/g, '\n') + '\0');
  }
  return h.digest('hex');
}

export interface ReleaseManifest {
  release: string;
  /** The patch id this release's code runs behind (none for the first kept release). */
  patch?: string;
  /** workflowSourceHash() of the code that recorded these histories. */
  sourceHash: string;
  recordedAt: string;
  scenarios: string[];
  /** How each scenario ended (the recorder checks it before writing). */
  outcomes?: Record<string, string>;
}

/** Kept releases, oldest first (v2, v3, … sorted by number). */
export function keptReleases(): { release: string; dir: string; manifest: ReleaseManifest }[] {
  if (!existsSync(HISTORIES_DIR)) return [];
  return readdirSync(HISTORIES_DIR)
    .filter((d) => /^v\d+$/.test(d))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .map((release) => {
      const dir = path.join(HISTORIES_DIR, release);
      return { release, dir, manifest: JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as ReleaseManifest };
    });
}
