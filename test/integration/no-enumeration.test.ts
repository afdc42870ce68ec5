import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { stateQuery } from '../../workflows/signup.contract';
import { uniqueEmail } from '../../testkit/env';
import { eventually } from '../../testkit/wait';
import { fromNewSource, type HttpResponse } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';

const PASSWORD = 'a long and unusual passphrase';
/** Headers that differ per request by design; everything else must match. */
const PER_REQUEST = new Set(['date', 'x-request-id', 'etag']);

function shape(r: HttpResponse) {
  const headers = Object.fromEntries([...r.headers.entries()].filter(([k]) => !PER_REQUEST.has(k)).map(([k, v]) => [k, k === 'retry-after' ? 'n' : v]));
  return { status: r.status, body: r.body, headers };
}

/**
 * No answer of signup, resend or verify tells an email with an account from a new one: the same
 * script runs against both and every answer is compared field by field.
 */
describe('no enumeration through signup, resend and verify', () => {
  let sys: System;
  useSystem({}, (started) => (sys = started));

  it('an existing account and a new email get the same status, body and headers at every step', async () => {
    const registered = uniqueEmail('enum-registered');
    const setup = fromNewSource(sys.apiUrl);
    await setup.post('/signup', { email: registered });
    expect((await setup.post('/verify', { email: registered, otp: await waitForCode(registered), password: PASSWORD, name: 'Has Account' })).status).toBe(201);
    await eventually(async () => ((await sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), registered)).describe()).status.name === 'COMPLETED' ? true : undefined));
    const fresh = uniqueEmail('enum-fresh');

    const keys = deriveKeys(sys.config);
    const script = async (email: string) => {
      const client = fromNewSource(sys.apiUrl);
      const steps: { step: string; r: HttpResponse; ms: number }[] = [];
      const call = async (step: string, path: string, body: object) => {
        const t = performance.now();
        const r = await client.post(path, body);
        steps.push({ step, r, ms: performance.now() - t });
      };
      await call('signup', '/signup', { email });
      // Both workflows issue a code right after the registered-email check (only the new email's is
      // mailed): wait until it exists, so both are compared in the same state.
      await eventually(async () => ((await sys.temporal.workflow.getHandle(signupWorkflowId(keys, email)).query(stateQuery)).codesIssued >= 1 ? true : undefined));
      await call('resend inside the cooldown', '/resend', { email });
      for (let i = 1; i <= 6; i++) await call(`wrong code #${i}`, '/verify', { email, otp: '000000', password: PASSWORD, name: 'Probe' });
      return steps;
    };
    const [a, b] = [await script(registered), await script(fresh)];
    // The new email's real code could be 000000 (one in a million): then its verify would succeed.
    if ((await waitForCode(fresh)) === '000000') return;

    expect(a.map((s) => s.step)).toEqual(b.map((s) => s.step));
    a.forEach((s, i) => expect({ step: s.step, ...shape(s.r) }).toEqual({ step: b[i].step, ...shape(b[i].r) }));
    // And the answers are the expected ones, not merely equal.
    expect(a.map((s) => `${s.r.status} ${s.r.body.code ?? ''}${s.r.body.attemptsLeft ?? ''}`)).toEqual([
      '202 ', '202 ', '400 INVALID_CODE4', '400 INVALID_CODE3', '400 INVALID_CODE2', '400 INVALID_CODE1', '429 TOO_MANY_ATTEMPTS', '429 TOO_MANY_ATTEMPTS',
    ]);
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    process.stdout.write(`[no-enumeration] verify median ms: registered ${median(a.slice(2).map((s) => s.ms)).toFixed(1)}, new ${median(b.slice(2).map((s) => s.ms)).toFixed(1)}\n`);
  });
});
