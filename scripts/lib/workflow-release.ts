import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Releases are per workflow type. What a type's release is made of: its workflow file and every
 * file it imports for its values, transitively (type-only imports are erased from the bundle, so
 * they cannot change what a history replays). A change to any of them is a change of that
 * workflow, and needs a new release of its recorded histories (README, "Releasing a workflow
 * change"); a change elsewhere (another workflow, workflows/index.ts) is not.
 *
 * workflows/index.ts is in no type's sources: it only names which types the worker registers, and
 * a type it stopped exporting fails the replay of that type's histories outright.
 */
export const ROOT = path.resolve(__dirname, '../..');
export const HISTORIES_DIR = path.join(ROOT, 'test/histories');

export interface WorkflowType {
  /** The exported workflow function (its Temporal workflow type). */
  workflow: string;
  /** The file that defines it, relative to the repository root. */
  entry: string;
  /** Where its releases (v1, v2, …) are kept. Signup's predate the per-type layout and stay at the top. */
  historiesDir: string;
  /** A scenario every release records: the non-determinism check replays it against a broken workflow. */
  probeScenario: string;
}

export const WORKFLOW_TYPES = {
  signup: { workflow: 'signupWorkflow', entry: 'workflows/signup.workflow.ts', historiesDir: HISTORIES_DIR, probeScenario: 'happy' },
  'password-reset': { workflow: 'passwordResetWorkflow', entry: 'workflows/password-reset.workflow.ts', historiesDir: path.join(HISTORIES_DIR, 'password-reset'), probeScenario: 'happy' },
  'password-change': { workflow: 'passwordChangeWorkflow', entry: 'workflows/password-change.workflow.ts', historiesDir: path.join(HISTORIES_DIR, 'password-change'), probeScenario: 'happy' },
  // Both flows of an email change live in one file, so they share their sources (and release together).
  'email-change': { workflow: 'emailChangeWorkflow', entry: 'workflows/email-change.workflow.ts', historiesDir: path.join(HISTORIES_DIR, 'email-change'), probeScenario: 'happy' },
  'email-undo': { workflow: 'emailUndoWorkflow', entry: 'workflows/email-change.workflow.ts', historiesDir: path.join(HISTORIES_DIR, 'email-undo'), probeScenario: 'undone' },
  'signin-notice': { workflow: 'signinNoticeWorkflow', entry: 'workflows/signin-notice.workflow.ts', historiesDir: path.join(HISTORIES_DIR, 'signin-notice'), probeScenario: 'happy' },
  'mfa-notice': { workflow: 'mfaNoticeWorkflow', entry: 'workflows/mfa-notice.workflow.ts', historiesDir: path.join(HISTORIES_DIR, 'mfa-notice'), probeScenario: 'happy' },
  'account-closure': { workflow: 'accountClosureWorkflow', entry: 'workflows/account-closure.workflow.ts', historiesDir: path.join(HISTORIES_DIR, 'account-closure'), probeScenario: 'restored' },
} as const satisfies Record<string, WorkflowType>;
export type WorkflowTypeName = keyof typeof WORKFLOW_TYPES;

/** Relative specifiers a module imports or re-exports for their values (not `import type` / `export type`). */
export function valueImports(source: string): string[] {
  const found: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(statement)) {
    if (m[2]) continue;
    // `import { type A, type B } from` imports types only as well.
    const names = /^\{([^}]*)\}$/.exec(m[3].trim());
    if (names && names[1].split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '))) continue;
    if (m[4].startsWith('.')) found.push(m[4]);
  }
  for (const m of source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) if (m[1].startsWith('.')) found.push(m[1]);
  return found;
}

function resolveModule(fromFile: string, specifier: string): string {
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${path.relative(ROOT, fromFile)} imports ${specifier}, which does not resolve to a .ts file`);
}

/** The files of a workflow type's release, relative to the root, sorted. */
export function workflowSources(type: WorkflowTypeName): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of valueImports(readFileSync(file, 'utf8'))) visit(resolveModule(file, spec));
  };
  visit(path.join(ROOT, WORKFLOW_TYPES[type].entry));
  return [...seen].map((f) => path.relative(ROOT, f).split(path.sep).join('/')).sort();
}

/** sha256 over a type's sources' paths and contents (line endings normalised). */
export function workflowSourceHash(type: WorkflowTypeName): string {
  const h = createHash('sha256');
  for (const rel of workflowSources(type)) {
    h.update(rel + '\0');
    h.update(readFileSync(path.join(ROOT, rel), 'utf8').replace(/\r\n/g, '\n') + '\0');
  }
  return h.digest('hex');
}

export interface ReleaseManifest {
  release: string;
  /** The patch id this release's code runs behind (none for the first kept release). */
  patch?: string;
  /** workflowSourceHash(type) of the code that recorded these histories. */
  sourceHash: string;
  recordedAt: string;
  scenarios: string[];
  /** How each scenario ended (the recorder checks it before writing). */
  outcomes?: Record<string, string>;
}

/** Kept releases of a workflow type, oldest first (v1, v2, … sorted by number). */
export function keptReleases(type: WorkflowTypeName): { release: string; dir: string; manifest: ReleaseManifest }[] {
  const dir = WORKFLOW_TYPES[type].historiesDir;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => /^v\d+$/.test(d))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .map((release) => {
      const releaseDir = path.join(dir, release);
      return { release, dir: releaseDir, manifest: JSON.parse(readFileSync(path.join(releaseDir, 'manifest.json'), 'utf8')) as ReleaseManifest };
    });
}
