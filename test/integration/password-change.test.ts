import { createAccount } from '../../testkit/accounts';
import { uniqueIp } from '../../testkit/env';
import { ApiClient, fromNewSource } from '../../testkit/http';
import { mailWithSubject } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';

const OLD_PASSWORD = 'the first sturdy passphrase';
const NEW_PASSWORD = 'a brand new sturdy passphrase';

describe('password change: POST /password/change', () => {
  let sys: System;
  // The default sign-in limit per (email, source): 5 failures, then a back-off.
  useSystem({ env: { RATE_SIGNIN_FAIL_PER_EMAIL_IP: '5' } }, (started) => {
    sys = started;
  });


  it('changes the password, keeps the asking session, revokes every other one and mails a notice', async () => {
    const owner = await createAccount(sys.apiUrl, 'change-happy', OLD_PASSWORD);
    const other = fromNewSource(sys.apiUrl);
    expect((await other.post('/signin', { email: owner.email, password: OLD_PASSWORD })).status).toBe(200);

    const r = await owner.client.post('/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD });
    expect(r.status).toBe(204);
    expect((await owner.client.get('/me')).status).toBe(200);
    expect((await other.get('/me')).status).toBe(401);
    expect((await owner.client.get('/sessions')).body.sessions).toHaveLength(1);
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: OLD_PASSWORD })).status).toBe(401);
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: NEW_PASSWORD })).status).toBe(200);
    await mailWithSubject(owner.email, 'Your CFD Broker password was changed');
  });

  it('a wrong current password is refused and counts against the sign-in limit of that email and source', async () => {
    const owner = await createAccount(sys.apiUrl, 'change-wrong', OLD_PASSWORD);
    const ip = uniqueIp();
    const session = new ApiClient(sys.apiUrl, { 'x-forwarded-for': ip });
    expect((await session.post('/signin', { email: owner.email, password: OLD_PASSWORD })).status).toBe(200);
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await session.post('/password/change', { currentPassword: 'not the password at all', newPassword: NEW_PASSWORD });
      answers.push(`${r.status} ${r.body.code}`);
    }
    expect(answers).toEqual([...Array(5).fill('400 INVALID_CURRENT_PASSWORD'), '429 RATE_LIMITED']);
    // The same budget as sign-in: a sign-in from that source is now held back too, even with the right password.
    const signin = await new ApiClient(sys.apiUrl, { 'x-forwarded-for': ip }).post('/signin', { email: owner.email, password: OLD_PASSWORD });
    expect({ status: signin.status, code: signin.body.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: OLD_PASSWORD })).status).toBe(200);
  });

  it('a weak new password is refused with the policy reason before the current one is checked', async () => {
    const owner = await createAccount(sys.apiUrl, 'change-weak', OLD_PASSWORD);
    const r = await owner.client.post('/password/change', { currentPassword: OLD_PASSWORD, newPassword: 'password' });
    expect({ status: r.status, code: r.body.code }).toEqual({ status: 400, code: 'WEAK_PASSWORD' });
    expect(r.body.message).toMatch(/too common/);
  });

  it('needs a session', async () => {
    const r = await fromNewSource(sys.apiUrl).post('/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD });
    expect({ status: r.status, code: r.body.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });
});
