import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { SignupStatusKey } from '../../temporal-config';
import { createAccount } from '../../testkit/accounts';
import { uniqueEmail } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';
import { ApiClient } from '../../testkit/http';
import { startSystem, type System } from '../../testkit/system';

describe('session lifetimes (shortened)', () => {
  let sys: System;
  afterEach(async () => {
    await sys?.close();
  });

  /** Uses the session `times` times, `everyMs` apart: each use must still be signed in. */
  async function keepUsing(client: ApiClient, times: number, everyMs: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      expect((await client.get('/me')).status).toBe(200);
      await sleep(everyMs);
    }
  }
  /** Polls /me every `everyMs` until it answers 401; a poll renews an idle session, so `everyMs` must exceed the idle timeout. */
  const signedOut = (client: ApiClient, everyMs: number) =>
    eventually(async () => ((await client.get('/me')).status === 401 ? true : undefined), 15_000, 'the session to end', everyMs);

  it('a session in use stays alive past the idle timeout, and expires once left idle', async () => {
    sys = await startSystem({ env: { SESSION_IDLE_TTL_S: '2', SESSION_ABSOLUTE_TTL_S: '600' } });
    const { client } = await createAccount(sys.apiUrl, 'idle');
    // 5 uses 0.8 s apart span 4 s: twice the idle timeout, and each use renews it.
    await keepUsing(client, 5, 800);
    await signedOut(client, 2500);
  });

  it('a session in use still ends at its absolute lifetime', async () => {
    sys = await startSystem({ env: { SESSION_IDLE_TTL_S: '600', SESSION_ABSOLUTE_TTL_S: '3' } });
    const { client } = await createAccount(sys.apiUrl, 'absolute');
    await keepUsing(client, 3, 700);
    await signedOut(client, 500);
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
