import { signupWorkflowId, deriveKeys } from '../../common/crypto';
import { stateQuery } from '../../workflows/signup.contract';
import { pendingSignup } from '../../testkit/accounts';
import { ApiClient, fromNewSource } from '../../testkit/http';
import { mailsTo, waitForCode, waitForMail } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';
import { uniqueEmail } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';

const PASSWORD = 'a long and unusual passphrase';

describe('signup and verification rules', () => {
  let sys: System;
  let api: ApiClient;
  // VERIFY_TIMEOUT_MS: a verification held while the DB processor restarts still gets its answer.
  useSystem({ env: { RESEND_COOLDOWN_S: '2', VERIFY_TIMEOUT_MS: '60000' } }, (started, client) => ((sys = started), (api = client)));

  const wrongCodeFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it("five wrong codes from one source burn that code for that source only: the owner elsewhere still verifies", async () => {
    const email = uniqueEmail('lock');
    await api.post('/signup', { email });
    const code = await waitForCode(email);
    const attacker = fromNewSource(sys.apiUrl);
    const owner = fromNewSource(sys.apiUrl);
    const wrong = wrongCodeFor(code);
    for (let left = 4; left >= 1; left--) {
      const r = await attacker.post('/verify', { email, otp: wrong, password: PASSWORD, name: 'Lock Test' });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 'INVALID_CODE', attemptsLeft: left });
    }
    const fifth = await attacker.post('/verify', { email, otp: wrong, password: PASSWORD, name: 'Lock Test' });
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe('TOO_MANY_ATTEMPTS');
    // The right code from the attacker's source is refused too: guessing stops there.
    const right = await attacker.post('/verify', { email, otp: code, password: PASSWORD, name: 'Lock Test' });
    expect(right.status).toBe(429);
    expect(right.body.code).toBe('TOO_MANY_ATTEMPTS');
    const mine = await owner.post('/verify', { email, otp: code, password: PASSWORD, name: 'Lock Test' });
    expect(mine.status).toBe(201);
  });

  it('a resend within the cooldown sends nothing; after it a new code replaces the old one, with fresh attempts', async () => {
    const email = uniqueEmail('resend');
    await api.post('/signup', { email });
    const first = await waitForCode(email);
    const wrong = await api.post('/verify', { email, otp: wrongCodeFor(first), password: PASSWORD, name: 'R' });
    expect(wrong.body.attemptsLeft).toBe(4);

    const early = await api.post('/resend', { email });
    expect(early.status).toBe(202);
    const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
    // The signal has been handled once a query (answered after it) still shows one code issued.
    expect((await handle.query(stateQuery)).codesIssued).toBe(1);
    expect(await mailsTo(email)).toHaveLength(1);

    await sleep(2000);
    const again = await api.post('/resend', { email });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(early.body);
    const second = await waitForCode(email, 2);

    if (second !== first) {
      const old = await api.post('/verify', { email, otp: first, password: PASSWORD, name: 'R' });
      expect(old.status).toBe(400);
      expect(old.body).toMatchObject({ code: 'INVALID_CODE', attemptsLeft: 4 });
    }
    const ok = await api.post('/verify', { email, otp: second, password: PASSWORD, name: 'R' });
    expect(ok.status).toBe(201);
  });

  it('an already registered email gets the same 202 and a notice mail instead of a code', async () => {
    const email = uniqueEmail('existing');
    await api.post('/signup', { email });
    await api.post('/verify', { email, otp: await waitForCode(email), password: PASSWORD, name: 'Existing' });

    const fresh = await api.post('/signup', { email: uniqueEmail('fresh') });
    const again = await api.post('/signup', { email });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(fresh.body);
    const notice = await waitForMail(email, 2);
    expect(notice.subject).toMatch(/already have/i);
    expect(notice.text).not.toMatch(/\b\d{6}\b/);
  });

  it("a code of one email does not verify another, and an email without a signup answers like a wrong code", async () => {
    const a = uniqueEmail('a');
    const b = uniqueEmail('b');
    await api.post('/signup', { email: a });
    await api.post('/signup', { email: b });
    const codeA = await waitForCode(a);
    const codeB = await waitForCode(b);
    if (codeA !== codeB) {
      const cross = await api.post('/verify', { email: b, otp: codeA, password: PASSWORD, name: 'B' });
      expect(cross.status).toBe(400);
      expect(cross.body.code).toBe('INVALID_CODE');
    }
    // An email with no pending signup answers exactly like a pending one with a wrong code.
    const pending = uniqueEmail('pending');
    await api.post('/signup', { email: pending });
    const pendingCode = await waitForCode(pending);
    const nobody = uniqueEmail('nobody');
    for (let left = 4; left >= 1; left--) {
      const real = await api.post('/verify', { email: pending, otp: wrongCodeFor(pendingCode), password: PASSWORD, name: 'N' });
      const none = await api.post('/verify', { email: nobody, otp: wrongCodeFor(pendingCode), password: PASSWORD, name: 'N' });
      expect(none.status).toBe(400);
      expect(none.text).toBe(real.text);
      expect(none.body).toMatchObject({ code: 'INVALID_CODE', attemptsLeft: left });
    }
    const realLast = await api.post('/verify', { email: pending, otp: wrongCodeFor(pendingCode), password: PASSWORD, name: 'N' });
    const noneLast = await api.post('/verify', { email: nobody, otp: wrongCodeFor(pendingCode), password: PASSWORD, name: 'N' });
    expect(realLast.status).toBe(429);
    expect(noneLast.text).toBe(realLast.text);
  });

  it('refuses weak passwords with the reason, before touching the code', async () => {
    const email = uniqueEmail('weak');
    await api.post('/signup', { email });
    const code = await waitForCode(email);
    // Bounds the OpenAPI document states (code points, UTF-8 bytes): a validation error on the field.
    const outOfBounds: [string, RegExp][] = [
      ['short', /8 to 72 characters/],
      ['😀'.repeat(7), /8 to 72 characters/],
      ['a'.repeat(73), /8 to 72 characters/],
      ['é'.repeat(37), /72 bytes/],
    ];
    for (const [password, why] of outOfBounds) {
      const r = await api.post('/verify', { email, otp: code, password, name: 'W' });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: expect.arrayContaining([{ path: 'password', message: expect.stringMatching(why) }]) });
    }
    // Rules no schema can state: well-formed, refused with 400 WEAK_PASSWORD and the reason.
    const refused: [string, RegExp][] = [
      ['password123', /too common/],
      [email, /email/],
    ];
    for (const [password, why] of refused) {
      const r = await api.post('/verify', { email, otp: code, password, name: 'W' });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('WEAK_PASSWORD');
      expect(r.body.message).toMatch(why);
    }
    const spaces = await api.post('/verify', { email, otp: code, password: '        with spaces 🙂', name: 'W' });
    expect(spaces.status).toBe(201);
  });

  it('20 concurrent signups for one email end in one workflow and one code mail', async () => {
    const email = uniqueEmail('concurrent');
    const answers = await Promise.all(Array.from({ length: 20 }, () => api.post('/signup', { email })));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    const keys = deriveKeys(sys.config);
    const handle = sys.temporal.workflow.getHandle(signupWorkflowId(keys, email));
    const state = await eventually(async () => {
      const s = await handle.query(stateQuery);
      return s.status === 'awaiting_code' ? s : undefined;
    });
    expect(state.codesIssued).toBe(1);
    await sleep(1000);
    expect(await mailsTo(email)).toHaveLength(1);
    const runs = [];
    for await (const wf of sys.temporal.workflow.list({ query: `WorkflowId = "${handle.workflowId}"` })) runs.push(wf);
    expect(runs.length).toBeLessThanOrEqual(1);
  });

  it('10 concurrent verifications with the right code: exactly one succeeds and one user exists', async () => {
    const { email, otp } = await pendingSignup(api, 'race');
    // The DB processor is held back until the workflow has accepted all ten, so all ten meet the
    // running signup: one creates the account, each other one is told the code already did.
    await sys.stopDbProcessor();
    const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
    const pending = Array.from({ length: 10 }, () => new ApiClient(sys.apiUrl).post('/verify', { email, otp, password: PASSWORD, name: 'Race' }));
    try {
      await eventually(async () => {
        const { events } = await handle.fetchHistory();
        return (events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length >= 10 ? true : undefined;
      }, 20_000, 'ten verifications accepted by the workflow');
    } finally {
      await sys.startDbProcessor();
    }
    const results = await Promise.all(pending);
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    const others = results.filter((x) => x.status !== 201);
    expect(others.map((r) => `${r.status} ${r.body.code}`)).toEqual(Array(9).fill('409 ALREADY_VERIFIED'));
    for (const r of others) expect(r.headers.get('set-cookie')).toBeNull();
    const signin = await new ApiClient(sys.apiUrl).post('/signin', { email, password: PASSWORD });
    expect(signin.status).toBe(200);
    expect(signin.body.user.id).toBe(created[0].body.user.id);
  });

  it('the workflow is gone once the account exists, so no code can be reused', async () => {
    const email = uniqueEmail('done');
    await api.post('/signup', { email });
    const otp = await waitForCode(email);
    expect((await api.post('/verify', { email, otp, password: PASSWORD, name: 'Done' })).status).toBe(201);
    const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
    expect((await handle.result()).status).toBe('completed');
    const reuse = await api.post('/verify', { email, otp, password: PASSWORD, name: 'Done' });
    expect(reuse.status).toBe(400);
    expect(reuse.body.code).toBe('INVALID_CODE');
    await expect(handle.query(stateQuery)).resolves.toMatchObject({ status: 'completed' });
  });
});
