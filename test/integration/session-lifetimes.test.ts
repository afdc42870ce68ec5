import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { SignupStatusKey } from '../../temporal-config';
import { createAccount } from '../../testkit/accounts';
import { uniqueEmail } from '../../testkit/env';
import { sleep } from '../../testkit/wait';
import { ApiClient } from '../../testkit/http';
import { startSystem, type System } from '../../testkit/system';

describe('session lifetimes (shortened)', () => {
  let sys: System;
  afterEach(async () => {
    await sys?.close();
  });

  it('a session in use stays alive past the idle timeout, and expires once left idle', async () => {
    sys = await startSystem({ env: { SESSION_IDLE_TTL_S: '2', SESSION_ABSOLUTE_TTL_S: '600' } });
    const { client } = await createAccount(sys.apiUrl, 'idle');
    for (let i = 0; i < 5; i++) {
      expect((await client.get('/me')).status).toBe(200);
      await sleep(800);
    }
    await sleep(3000);
    expect((await client.get('/me')).status).toBe(401);
  });

  it('a session in use still ends at its absolute lifetime', async () => {
    sys = await startSystem({ env: { SESSION_IDLE_TTL_S: '600', SESSION_ABSOLUTE_TTL_S: '3' } });
    const { client } = await createAccount(sys.apiUrl, 'absolute');
    for (let i = 0; i < 3; i++) {
      expect((await client.get('/me')).status).toBe(200);
      await sleep(700);
    }
    await sleep(1500);
    expect((await client.get('/me')).status).toBe(401);
  });
});

describe('mail that cannot be delivered', () => {
  let sys: System;
  afterAll(async () => {
    await sys?.close();
  });

  it('when the mail budget runs out the signup ends "mail_failed" and says why', async () => {
    sys = await startSystem({ env: { SMTP_URL: 'smtp://127.0.0.1:9', EMAIL_RETRY_BUDGET_S: '4' } });
    const email = uniqueEmail('undeliverable');
    expect((await new ApiClient(sys.apiUrl).post('/signup', { email })).status).toBe(202);
    const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
    expect(await handle.result()).toEqual({ status: 'mail_failed', reason: 'email_undeliverable' });
    expect((await handle.describe()).typedSearchAttributes.get(SignupStatusKey)).toBe('mail_failed');
  });
});
