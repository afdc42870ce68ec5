import { accountClosureWorkflowId, deriveKeys, passwordResetWorkflowId } from '../../common/crypto';
import { resetStateQuery } from '../../workflows/password-reset.contract';
import { createAccount } from '../../testkit/accounts';
import { withDb } from '../../testkit/db';

import { ApiClient, fromNewSource } from '../../testkit/http';
import { codeOf, type Mail, mailWithSubject, waitForMail } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';
import { eventually } from '../../testkit/wait';

const PASSWORD = 'a closing account passphrase';
const CLOSED_SUBJECT = 'Your CFD Broker account was closed';
/** Short enough to watch the erasure, long enough to restore within it on a loaded machine. */
const GRACE_S = 20;

const restoreTokenIn = (mail: Mail) => /\/account\/restore\?token=([A-Za-z0-9._-]+)/.exec(mail.text)![1];

describe('account closure: DELETE /me and POST /me/restore', () => {
  let sys: System;
  useSystem({ env: { ACCOUNT_CLOSURE_GRACE_S: String(GRACE_S) } }, (started) => {
    sys = started;
  });
  const close = (client: ApiClient, password: string) => client.call('DELETE', '/me', { password });
  const userRow = (id: string) => withDb(sys.config.DATABASE_URL, (sql) => sql('select id, closed_at from users where id = ?', [id]));

  it('closes at once (every session ends, sign-in and reset find nothing), and the mailed link restores it, once', async () => {
    const owner = await createAccount(sys.apiUrl, 'closure-restore', PASSWORD);
    const other = fromNewSource(sys.apiUrl);
    expect((await other.post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(200);
    const ownerCookie = owner.client.cookie!;

    const closed = await close(owner.client, PASSWORD);
    expect(closed.status).toBe(202);
    expect(closed.body.message).toMatch(/erased in/);
    expect(closed.headers.get('set-cookie')).toMatch(/auth_token=;/);
    // Revoked before the answer, not eventually.
    expect((await new ApiClient(sys.apiUrl).get('/me', { cookie: ownerCookie })).status).toBe(401);
    expect((await other.get('/me')).status).toBe(401);

    const notice = await mailWithSubject(owner.email, CLOSED_SUBJECT);
    expect((await userRow(owner.user.id))[0].closed_at).not.toBeNull();
    const signin = await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD });
    expect({ status: signin.status, code: signin.body.code }).toEqual({ status: 401, code: 'INVALID_CREDENTIALS' });

    // A password reset treats it like an unknown address: same 202, a code issued but never mailed.
    expect((await fromNewSource(sys.apiUrl).post('/password/forgot', { email: owner.email })).status).toBe(202);
    const reset = sys.temporal.workflow.getHandle(passwordResetWorkflowId(deriveKeys(sys.config), owner.email));
    expect(await eventually(async () => ((await reset.query(resetStateQuery)).codesIssued >= 1 ? (await reset.query(resetStateQuery)).status : undefined), 30_000, 'reset code issued')).toBe('no_account');

    const token = restoreTokenIn(notice);
    const [flowId] = token.split('.');
    expect(flowId).toBe(accountClosureWorkflowId(deriveKeys(sys.config), owner.user.id));
    const forged = await fromNewSource(sys.apiUrl).post('/me/restore', { token: `${flowId}.${'A'.repeat(43)}` });
    expect({ status: forged.status, code: forged.body.code }).toEqual({ status: 400, code: 'INVALID_TOKEN' });

    const restored = await fromNewSource(sys.apiUrl).post('/me/restore', { token });
    expect(restored.status).toBe(200);
    expect((await userRow(owner.user.id))[0].closed_at).toBeNull();
    const back = await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD });
    expect({ status: back.status, user: back.body.user }).toEqual({ status: 200, user: owner.user });
    const again = await fromNewSource(sys.apiUrl).post('/me/restore', { token });
    expect({ status: again.status, code: again.body.code }).toEqual({ status: 400, code: 'INVALID_TOKEN' });
    // The restored account's flow ended restored; the account is not erased later.
    expect(await sys.temporal.workflow.getHandle(flowId).result()).toEqual({ status: 'restored' });
  });

  it('erases the account at the end of the grace period: the row is gone, the link is dead, and the address can sign up again', async () => {
    const owner = await createAccount(sys.apiUrl, 'closure-erase', PASSWORD);
    expect((await close(owner.client, PASSWORD)).status).toBe(202);
    const token = restoreTokenIn(await mailWithSubject(owner.email, CLOSED_SUBJECT));
    const flow = sys.temporal.workflow.getHandle(token.split('.')[0]);
    expect(await flow.result()).toEqual({ status: 'erased' });
    expect(await userRow(owner.user.id)).toEqual([]);

    const late = await fromNewSource(sys.apiUrl).post('/me/restore', { token });
    expect({ status: late.status, code: late.body.code }).toEqual({ status: 400, code: 'INVALID_TOKEN' });
    // The address is free: a new signup creates a new account (not the "you already have one" notice).
    const again = new ApiClient(sys.apiUrl);
    expect((await again.post('/signup', { email: owner.email })).status).toBe(202);
    // The third mail to the address: its first signup's code, the closure notice, the new code.
    const code = codeOf(await waitForMail(owner.email, 3));
    const created = await again.post('/verify', { email: owner.email, otp: code, password: PASSWORD, name: 'Second life' });
    expect(created.status).toBe(201);
    expect(created.body.user.id).not.toBe(owner.user.id);
  });

  it('a wrong password closes nothing; without a session the call is refused', async () => {
    const owner = await createAccount(sys.apiUrl, 'closure-wrong', PASSWORD);
    const wrong = await close(owner.client, 'not the password at all');
    expect({ status: wrong.status, code: wrong.body.code }).toEqual({ status: 400, code: 'INVALID_CURRENT_PASSWORD' });
    expect((await owner.client.get('/me')).status).toBe(200);
    expect((await userRow(owner.user.id))[0].closed_at).toBeNull();
    const anonymous = await close(new ApiClient(sys.apiUrl), PASSWORD);
    expect({ status: anonymous.status, code: anonymous.body.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    for (const token of ['account-closure-nonsense.x', 'email-undo-0.AAAA', '']) {
      const r = await fromNewSource(sys.apiUrl).post('/me/restore', { token });
      expect(r.status).toBe(400);
    }
  });
});
