import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';
import { uniqueEmail } from '../../testkit/env';

describe('signup → code by mail → verify → /me', () => {
  let sys: System;
  useSystem({}, (started) => (sys = started));

  it('creates the account and signs the user in with a working session cookie', async () => {
    const client = new ApiClient(sys.apiUrl);
    const email = uniqueEmail('happy');
    const signup = await client.post('/signup', { email: `  ${email.toUpperCase()} ` });
    expect(signup.status).toBe(202);
    expect(signup.body).toEqual({ message: expect.any(String) });

    const otp = await waitForCode(email);
    const verify = await client.post('/verify', { email, otp, password: 'correct horse battery staple', name: '  Ada Lovelace ' });
    expect(verify.status).toBe(201);
    expect(verify.body.user).toEqual({ id: expect.any(String), email, name: 'Ada Lovelace' });
    expect(client.cookie).toMatch(/^auth_token=/);

    const me = await client.get('/me');
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ id: verify.body.user.id, email, name: 'Ada Lovelace' });
    expect(new Date(me.body.user.createdAt).getTime()).toBeGreaterThan(Date.now() - 120_000);
  });
});
