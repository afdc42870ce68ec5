import { SignupStatusKey } from '../../temporal-config';
import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { uniqueEmail } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';
import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';

describe('lifetimes arrive in the workflow input, so they can be shortened', () => {
  let sys: System;
  let api: ApiClient;
  useSystem({ env: { CODE_TTL_S: '2', SIGNUP_WINDOW_S: '6', LOCKOUT_S: '2' } }, (started, client) => ((sys = started), (api = client)));

  it('an expired code answers CODE_EXPIRED', async () => {
    const email = uniqueEmail('expired');
    await api.post('/signup', { email });
    const otp = await waitForCode(email);
    await sleep(2500);
    const r = await api.post('/verify', { email, otp, password: 'too late for this one', name: 'Late' });
    expect(r.status).toBe(410);
    expect(r.body.code).toBe('CODE_EXPIRED');
  });

  it('a signup nobody verifies ends "expired", visible as SignupStatus in Temporal', async () => {
    const email = uniqueEmail('window');
    await api.post('/signup', { email });
    await waitForCode(email);
    const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
    expect(await handle.result()).toEqual({ status: 'expired' });
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(SignupStatusKey)).toBe('expired');
    const listed = await eventually(async () => {
      for await (const wf of sys.temporal.workflow.list({ query: `SignupStatus = "expired" AND WorkflowId = "${handle.workflowId}"` })) return wf;
      return undefined;
    }, 30_000, 'visibility');
    expect(listed.workflowId).toBe(handle.workflowId);
  });
});
