import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { deriveKeys, passwordResetWorkflowId } from '../../common/crypto';
import { resetStateQuery } from '../../workflows/password-reset.contract';
import { createAccount } from '../../testkit/accounts';
import { uniqueEmail } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';
import { fromNewSource, type HttpResponse } from '../../testkit/http';
import { codeOf, mailsTo, mailWithSubject } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const OLD_PASSWORD = 'the first sturdy passphrase';
const NEW_PASSWORD = 'a brand new sturdy passphrase';
const RESET_SUBJECT = 'Your CFD Broker password reset code';
const NOTICE_SUBJECT = 'Your CFD Broker password was changed';
/** Headers that differ per request by design; everything else must match. */
const PER_REQUEST = new Set(['date', 'x-request-id', 'etag']);

function shape(r: HttpResponse) {
  const headers = Object.fromEntries([...r.headers.entries()].filter(([k]) => !PER_REQUEST.has(k)).map(([k, v]) => [k, k === 'retry-after' ? 'n' : v]));
  return { status: r.status, body: r.body, headers };
}

const wrongCodeFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

/** The `n`-th password reset code mailed to an address. */
async function resetCode(email: string, n = 1): Promise<string> {
  return codeOf(await mailWithSubject(email, RESET_SUBJECT, n));
}

describe('password reset: POST /password/forgot and /password/reset', () => {
  let sys: System;
  let keys: ReturnType<typeof deriveKeys>;
  useSystem({}, (started) => {
    sys = started;
    keys = deriveKeys(started.config);
  });

  const resetState = (email: string) => sys.temporal.workflow.getHandle(passwordResetWorkflowId(keys, email)).query(resetStateQuery);
  const untilCodeIssued = (email: string, n = 1) => eventually(async () => ((await resetState(email)).codesIssued >= n ? true : undefined), 30_000, `code #${n} issued`);

  it('a reset with the mailed code sets the new password, revokes every session, starts a fresh one and mails a notice', async () => {
    const owner = await createAccount(sys.apiUrl, 'reset-happy', OLD_PASSWORD);
    const otherDevice = fromNewSource(sys.apiUrl);
    expect((await otherDevice.post('/signin', { email: owner.email, password: OLD_PASSWORD })).status).toBe(200);

    const stranger = fromNewSource(sys.apiUrl);
    expect((await stranger.post('/password/forgot', { email: owner.email })).status).toBe(202);
    const r = await stranger.post('/password/reset', { email: owner.email, code: await resetCode(owner.email), password: NEW_PASSWORD });
    expect(r.status).toBe(200);
    expect(r.body.user).toEqual(owner.user);
    expect(r.headers.get('set-cookie')).toMatch(/auth_token=/);

    expect((await stranger.get('/me')).status).toBe(200);
    expect((await owner.client.get('/me')).status).toBe(401);
    expect((await otherDevice.get('/me')).status).toBe(401);
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: OLD_PASSWORD })).status).toBe(401);
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: NEW_PASSWORD })).status).toBe(200);
    await mailWithSubject(owner.email, NOTICE_SUBJECT);
    // The same code again never opens a second session.
    const again = await fromNewSource(sys.apiUrl).post('/password/reset', { email: owner.email, code: await resetCode(owner.email), password: NEW_PASSWORD });
    expect(again.status === 409 || again.status === 400).toBe(true);
    expect(['PASSWORD_ALREADY_RESET', 'INVALID_CODE']).toContain(again.body.code);
  });

  it('an existing account and an unknown email get the same answers at every step, field by field; only the account gets mail', async () => {
    const owner = await createAccount(sys.apiUrl, 'reset-enum', OLD_PASSWORD);
    const unknown = uniqueEmail('reset-enum-unknown');
    const script = async (email: string) => {
      const client = fromNewSource(sys.apiUrl);
      const steps: { step: string; r: HttpResponse }[] = [];
      const call = async (step: string, path: string, body: object) => steps.push({ step, r: await client.post(path, body) });
      await call('forgot', '/password/forgot', { email });
      // Both flows issue a code (only the account's is mailed): compare them in the same state.
      await untilCodeIssued(email);
      await call('forgot inside the cooldown', '/password/forgot', { email });
      for (let i = 1; i <= 6; i++) await call(`wrong code #${i}`, '/password/reset', { email, code: '000000', password: NEW_PASSWORD });
      return steps;
    };
    const [a, b] = [await script(owner.email), await script(unknown)];
    // The account's real code could be 000000 (one in a million): then its reset would succeed.
    if ((await resetCode(owner.email)) === '000000') return;

    a.forEach((s, i) => expect({ step: s.step, ...shape(s.r) }).toEqual({ step: b[i].step, ...shape(b[i].r) }));
    expect(a.map((s) => `${s.r.status} ${s.r.body.code ?? ''}${s.r.body.attemptsLeft ?? ''}`)).toEqual([
      '202 ', '202 ', '400 INVALID_CODE4', '400 INVALID_CODE3', '400 INVALID_CODE2', '400 INVALID_CODE1', '429 TOO_MANY_ATTEMPTS', '429 TOO_MANY_ATTEMPTS',
    ]);
    // The cooldown held: one code each, one mail to the account, none to the unknown address.
    expect((await resetState(owner.email)).codesIssued).toBe(1);
    expect((await resetState(unknown)).codesIssued).toBe(1);
    expect((await mailsTo(owner.email)).filter((m) => m.subject === RESET_SUBJECT)).toHaveLength(1);
    expect(await mailsTo(unknown)).toEqual([]);
  });

  it('a wrong code answers INVALID_CODE with attemptsLeft; the fifth locks the code, the right one then too', async () => {
    const owner = await createAccount(sys.apiUrl, 'reset-wrong', OLD_PASSWORD);
    const client = fromNewSource(sys.apiUrl);
    await client.post('/password/forgot', { email: owner.email });
    const code = await resetCode(owner.email);
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await client.post('/password/reset', { email: owner.email, code: wrongCodeFor(code), password: NEW_PASSWORD });
      answers.push(`${r.status} ${r.body.code} ${r.body.attemptsLeft ?? ''}`.trim());
    }
    expect(answers).toEqual(['400 INVALID_CODE 4', '400 INVALID_CODE 3', '400 INVALID_CODE 2', '400 INVALID_CODE 1', '429 TOO_MANY_ATTEMPTS']);
    const right = await client.post('/password/reset', { email: owner.email, code, password: NEW_PASSWORD });
    expect({ status: right.status, code: right.body.code }).toEqual({ status: 429, code: 'TOO_MANY_ATTEMPTS' });
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: OLD_PASSWORD })).status).toBe(200);
  });

  it('a weak new password is refused with the policy reason, and the code stays usable', async () => {
    const owner = await createAccount(sys.apiUrl, 'reset-weak', OLD_PASSWORD);
    const client = fromNewSource(sys.apiUrl);
    await client.post('/password/forgot', { email: owner.email });
    const code = await resetCode(owner.email);
    // Too short is a schema bound (400 VALIDATION_FAILED); a common password is the policy's refusal.
    const short = await client.post('/password/reset', { email: owner.email, code, password: 'short' });
    expect({ status: short.status, code: short.body.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    const weak = await client.post('/password/reset', { email: owner.email, code, password: 'password123' });
    expect({ status: weak.status, code: weak.body.code }).toEqual({ status: 400, code: 'WEAK_PASSWORD' });
    expect(weak.body.message).toMatch(/too common/);
    expect((await client.post('/password/reset', { email: owner.email, code, password: NEW_PASSWORD })).status).toBe(200);
  });

  it('a second forgot inside the 60 s cooldown issues no new code; the first code still works', async () => {
    const owner = await createAccount(sys.apiUrl, 'reset-cooldown', OLD_PASSWORD);
    const client = fromNewSource(sys.apiUrl);
    await client.post('/password/forgot', { email: owner.email });
    const code = await resetCode(owner.email);
    expect((await client.post('/password/forgot', { email: owner.email })).status).toBe(202);
    await sleep(500);
    expect((await resetState(owner.email)).codesIssued).toBe(1);
    expect((await client.post('/password/reset', { email: owner.email, code, password: NEW_PASSWORD })).status).toBe(200);
  });

  it('`npm run account -- find-reset <email>` prints the reset workflow, its status and the Temporal UI link', async () => {
    const owner = await createAccount(sys.apiUrl, 'reset-cli', OLD_PASSWORD);
    await fromNewSource(sys.apiUrl).post('/password/forgot', { email: owner.email });
    await untilCodeIssued(owner.email);
    const { stdout } = await run('npx', ['tsx', 'scripts/account-cli.ts', 'find-reset', owner.email.toUpperCase()], { cwd: ROOT, timeout: 60_000 });
    expect(stdout).toContain(passwordResetWorkflowId(keys, owner.email));
    expect(stdout).toMatch(/AccountFlowStatus:\s+(sending_code|awaiting_code)/);
    expect(stdout).toMatch(/codes issued:\s+1/);
    expect(stdout).not.toContain(owner.email);
  });

  it('a reset with no forgot before counts down like a wrong code', async () => {
    const owner = await createAccount(sys.apiUrl, 'reset-none', OLD_PASSWORD);
    const r = await fromNewSource(sys.apiUrl).post('/password/reset', { email: owner.email, code: '123456', password: NEW_PASSWORD });
    expect({ status: r.status, code: r.body.code, attemptsLeft: r.body.attemptsLeft }).toEqual({ status: 400, code: 'INVALID_CODE', attemptsLeft: 4 });
  });
});

describe('password reset with a short code lifetime', () => {
  // The account comes from an API with the default code lifetime: a 1 s signup code can expire
  // between its mail and the verify on a loaded machine. The reset goes through the 1 s one.
  let regular: System;
  let shortLived: System;
  useSystem({}, (started) => {
    regular = started;
  });
  useSystem({ env: { CODE_TTL_S: '1' } }, (started) => {
    shortLived = started;
  });

  it('an expired code answers 410 CODE_EXPIRED and changes nothing', async () => {
    const owner = await createAccount(regular.apiUrl, 'reset-expired', OLD_PASSWORD);
    const client = fromNewSource(shortLived.apiUrl);
    await client.post('/password/forgot', { email: owner.email });
    const code = await resetCode(owner.email);
    await sleep(1500);
    const r = await client.post('/password/reset', { email: owner.email, code, password: NEW_PASSWORD });
    expect({ status: r.status, code: r.body.code }).toEqual({ status: 410, code: 'CODE_EXPIRED' });
    expect((await fromNewSource(shortLived.apiUrl).post('/signin', { email: owner.email, password: OLD_PASSWORD })).status).toBe(200);
  });
});
