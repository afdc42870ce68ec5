import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
let cleanupRegistered = false;

/** A fresh directory under the OS temp dir, removed after the test file's tests (jest afterAll). */
export function tempDir(prefix: string): string {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    afterAll(() => made.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
