/**
 * The web client's types (web/lib/api-types.generated.ts) are generated from the API's OpenAPI
 * document; a route, field or error code changed without regenerating them fails here.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const GENERATED = join(ROOT, 'web', 'lib', 'api-types.generated.ts');

/** Exit status of `scripts/openapi-web.ts --check <file>`. */
function check(file: string): number {
  try {
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/openapi-web.ts', '--check', file], { cwd: ROOT, stdio: 'pipe', env: { ...process.env, NODE_ENV: 'test' } });
    return 0;
  } catch (err) {
    return (err as { status: number }).status;
  }
}

describe('generated web API types', () => {
  it('the committed file is what the OpenAPI document generates', () => {
    expect(check(GENERATED)).toBe(0);
  });

  it('a file that differs from the document (a code removed) is reported stale', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'web-types-')), 'api-types.generated.ts');
    copyFileSync(GENERATED, copy);
    writeFileSync(copy, readFileSync(copy, 'utf8').replace('"ALREADY_VERIFIED",', ''));
    expect(check(copy)).toBe(1);
  });
});
