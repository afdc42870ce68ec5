/**
 * Jaeger's first build does not hold up `scripts/stack.sh up` (issue #17, a first start within
 * minutes): while the binary is missing, `up` starts the build in the background and goes on;
 * `status` says `building` without counting it; the builder starts Jaeger once the binary is there,
 * unless `down` ran in between.
 * Isolated from the running stack: its own data dir, cache, binary path and ports. `go` is a stand-in
 * on PATH whose `build` writes, after a pause, a stand-in Jaeger that serves HTTP on the UI port:
 * what is under test is the script's orchestration, not Go or Jaeger.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../testkit/supervisor';
import { eventually, sleep } from '../../testkit/wait';

const STACK = path.resolve(__dirname, '../../scripts/stack.sh');
const BUILD_S = 4;

function stack(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', [STACK, ...args], { env, timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}

const answers = (port: number) =>
  fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);

describe('stack.sh: Jaeger builds in the background', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let uiPort: number;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cfd-jaeger-build-'));
    const fakeBin = path.join(dir, 'fakebin');
    mkdirSync(fakeBin);
    // `go mod init`, `go get -tool`: nothing to do; `go build -o <out> <module>`: a pause, then a
    // stand-in Jaeger (a static HTTP server on the UI port, kept as a child so its pid is the group's).
    writeFileSync(path.join(fakeBin, 'go'), [
      '#!/usr/bin/env bash',
      'case "$1" in',
      '  mod) touch go.mod ;;',
      `  build) sleep ${BUILD_S}; [[ -z "$FAKE_GO_FAIL" ]] || { echo 'build failed' >&2; exit 1; }; printf '%s\\n' '#!/usr/bin/env bash' 'python3 -m http.server --bind 127.0.0.1 "$JAEGER_UI_PORT"' >"$3"; chmod +x "$3" ;;`,
      'esac',
    ].join('\n'));
    chmodSync(path.join(fakeBin, 'go'), 0o755);
    uiPort = await freePort();
    env = {
      ...process.env,
      PATH: `${fakeBin}:${process.env.PATH}`,
      CFD_DATA_DIR: path.join(dir, 'data'),
      CFD_CACHE: path.join(dir, 'cache'),
      JAEGER_BIN: path.join(dir, 'bin', 'jaeger'),
      JAEGER_UI_PORT: String(uiPort),
      JAEGER_QUERY_GRPC_PORT: String(await freePort()),
      JAEGER_OTLP_PORT: String(await freePort()),
      JAEGER_SKIP: '0',
      STACK_STATUS_EXPECT_APPS: '0',
    };
  });

  afterEach(async () => {
    await stack(['jaeger-down'], env);
    rmSync(dir, { recursive: true, force: true });
  });

  it('up returns before the build ends, status says building (not counted), and Jaeger starts when built', async () => {
    const up = await stack(['jaeger-up'], env);
    expect(up.code).toBe(0);
    expect(up.out).toMatch(/building Jaeger .* in the background/);
    // Returned while the build was still under way (the stand-in build takes BUILD_S seconds).
    expect(existsSync(env.JAEGER_BIN!)).toBe(false);

    const during = await stack(['status'], env);
    const row = during.out.split('\n').find((l) => l.startsWith('jaeger ')) ?? '';
    expect(row).toMatch(/ building .*not counted/);

    // A second `up` meanwhile does not start a second build.
    const again = await stack(['jaeger-up'], env);
    expect(again.out).toMatch(/still building in the background/);

    await eventually(async () => ((await answers(uiPort)) ? true : undefined), 30_000, 'the Jaeger the builder started');
    const after = await stack(['status'], env);
    expect(after.out.split('\n').find((l) => l.startsWith('jaeger '))).toMatch(/ up /);
    // The builder says what it did in its own log.
    expect(readFileSync(path.join(dir, 'data', 'logs', 'jaeger-builder.log'), 'utf8')).toMatch(/built .*\n.*started \(pid/s);
  }, 60_000);

  it('a failed build: status counts jaeger as down and says it is not built; the next up builds again', async () => {
    const failing = { ...env, FAKE_GO_FAIL: '1' };
    expect((await stack(['jaeger-up'], failing)).code).toBe(0);
    const row = async () => (await stack(['status'], failing)).out.split('\n').find((l) => l.startsWith('jaeger ')) ?? '';
    await eventually(async () => (/ down .*not built/.test(await row()) ? true : undefined), 30_000, 'the failed build reported');
    const status = await stack(['status'], failing);
    expect(status.code).toBe(3);
    expect((await stack(['jaeger-up'], env)).out).toMatch(/building Jaeger .* in the background/);
  }, 60_000);

  it('down before the build ends: the binary is kept, Jaeger does not start', async () => {
    expect((await stack(['jaeger-up'], env)).code).toBe(0);
    const down = await stack(['jaeger-down'], env);
    expect(down.out).toMatch(/background build .* goes on; Jaeger will not start/);
    await eventually(async () => (existsSync(env.JAEGER_BIN!) ? true : undefined), 30_000, 'the built binary');
    await sleep(2_000);
    expect(await answers(uiPort)).toBe(false);
  }, 60_000);
});
