import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { WorkflowUpdateStage } from '@temporalio/client';
import bcrypt from 'bcrypt';
import { codeDigest, seal, SealContext } from '../../common/crypto';
import { stateQuery, verifyUpdate } from '../../workflows/signup.contract';
import { pendingSignup } from '../../testkit/accounts';
import { withDb } from '../../testkit/db';
import { uniqueEmail } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';
import { ApiClient } from '../../testkit/http';
import { mailsTo, waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';

const STACK = path.resolve(__dirname, '../../scripts/stack.sh');
const smtp = (action: 'stop-smtp' | 'start-smtp') => execFileSync('bash', [STACK, action], { stdio: 'ignore', timeout: 60_000 });

describe('signup survives failing dependencies', () => {
  let sys: System;
  let api: ApiClient;
  beforeAll(async () => {
    // The API waits for a verification as long as a DB processor restart takes, so its answer is known.
    sys = await startSystem({ env: { VERIFY_TIMEOUT_MS: '60000' } });
    api = new ApiClient(sys.apiUrl);
  });
  afterAll(async () => {
    smtp('start-smtp');
    await sys?.close();
  });

  const statusOf = async (email: string) => {
    const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
    return (await handle.query(stateQuery)).status;
  };

  it('with SMTP down, signup answers 202 at once; when SMTP returns the mail arrives and verification works', async () => {
    const email = uniqueEmail('smtpdown');
    smtp('stop-smtp');
    try {
      const r = await api.post('/signup', { email });
      expect(r.status).toBe(202);
      await eventually(async () => ((await statusOf(email)) === 'sending_code' ? true : undefined), 20_000, 'sending_code');
      await sleep(3000);
      expect(await statusOf(email)).toBe('sending_code');
    } finally {
      smtp('start-smtp');
    }
    const otp = await waitForCode(email, 1, 90_000);
    const v = await api.post('/verify', { email, otp, password: 'survived an outage', name: 'Patient' });
    expect(v.status).toBe(201);
    expect(await mailsTo(email)).toHaveLength(1);
  });

  it('a worker stopped and restarted in the middle of a signup lets the signup complete', async () => {
    const email = uniqueEmail('worker');
    await sys.stopWorker();
    const r = await api.post('/signup', { email });
    expect(r.status).toBe(202);
    await sleep(1000);
    expect(await mailsTo(email)).toHaveLength(0);
    await sys.startWorker();
    const otp = await waitForCode(email, 1, 60_000);
    const v = await api.post('/verify', { email, otp, password: 'restarted worker pass', name: 'W' });
    expect(v.status).toBe(201);
  });

  it('with the DB processor stopped during verification, the update waits and completes when it returns', async () => {
    const { email, otp } = await pendingSignup(api, 'dbdown');
    await sys.stopDbProcessor();
    const pending = api.post('/verify', { email, otp, password: 'database came back', name: 'D' });
    await eventually(async () => ((await statusOf(email)) === 'creating_user' ? true : undefined), 20_000, 'creating_user');
    await sys.startDbProcessor();
    const v = await pending;
    expect(v.status).toBe(201);
    const rows = await eventually(
      () => withDb(sys.config.DATABASE_URL, async (sql) => {
        const r = await sql('select id from users where email = ?', [email]);
        return r.length ? r : undefined;
      }),
      60_000,
      'the user row',
    );
    expect(rows).toHaveLength(1);
    expect(v.body.user.id).toBe(rows[0].id);
    const signin = await new ApiClient(sys.apiUrl).post('/signin', { email, password: 'database came back' });
    expect(signin.status).toBe(200);
  });

  /** Activity types the server scheduled for this signup, and the local activities its markers record. */
  const activitiesOf = async (email: string) => {
    const history = await sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email)).fetchHistory();
    const scheduled = history.events!.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name!] : []));
    const markers = history.events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
    return { scheduled, markers };
  };

  it('a healthy signup and verify send only the mail through an activity task: the check, the code and the account are local attempts', async () => {
    const { email, otp } = await pendingSignup(api, 'localfirst');
    const v = await api.post('/verify', { email, otp, password: 'local attempts first', name: 'L' });
    expect(v.status).toBe(201);
    // isEmailRegistered, issueCode, consumeCode and createUser: four local activity markers.
    expect(await activitiesOf(email)).toEqual({ scheduled: ['sendCodeEmail'], markers: 4 });
  });

  it('with the DB processor stopped at signup, the check shows in Temporal as a pending activity with its last failure, and the signup goes on when it returns', async () => {
    const email = uniqueEmail('checkdown');
    await sys.stopDbProcessor();
    let restarted = false;
    try {
      expect((await api.post('/signup', { email })).status).toBe(202);
      const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
      // The local attempt ends with the Kafka request's timeout; the regular activity takes over.
      const pending = await eventually(async () => {
        const [a] = (await handle.describe()).raw.pendingActivities ?? [];
        return a?.activityType?.name === 'isEmailRegistered' && a.lastFailure ? a : undefined;
      }, 30_000, 'a pending isEmailRegistered with a last failure');
      expect(pending.lastFailure!.message).toMatch(/timed out|timeout/i);
      expect(await statusOf(email)).toBe('checking');
      await sys.startDbProcessor();
      restarted = true;
    } finally {
      if (!restarted) await sys.startDbProcessor();
    }
    const otp = await waitForCode(email, 1, 90_000);
    expect((await api.post('/verify', { email, otp, password: 'the check came back', name: 'C' })).status).toBe(201);
    const { scheduled } = await activitiesOf(email);
    expect(scheduled).toEqual(['isEmailRegistered', 'sendCodeEmail']);
  });

  it('a verification retried while the first one is still creating the account is told the account is ready', async () => {
    const email = uniqueEmail('retry');
    await api.post('/signup', { email });
    const otp = await waitForCode(email);
    const keys = deriveKeys(sys.config);
    const id = signupWorkflowId(keys, email);
    const args = {
      codeDigest: codeDigest(keys, id, otp),
      nameSealed: seal(keys, 'Retry', SealContext.name(id)),
      passwordSealed: seal(keys, await bcrypt.hash('retried verification', 4), SealContext.passwordHash(email)),
    };
    await sys.stopDbProcessor();
    const handle = sys.temporal.workflow.getHandle(id);
    const first = await handle.startUpdate(verifyUpdate, { args: [args], waitForStage: WorkflowUpdateStage.ACCEPTED });
    const retry = await handle.startUpdate(verifyUpdate, { args: [args], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await sys.startDbProcessor();
    const created = await first.result();
    expect(created).toEqual({ ok: true, user: { id: expect.any(String), createdAt: expect.any(String) } });
    expect(await retry.result()).toEqual({ ok: false, code: 'ALREADY_VERIFIED' });
    const rows = await withDb(sys.config.DATABASE_URL, (sql) => sql('select id from users where email = ?', [email]));
    expect(rows).toEqual([{ id: (created as { user: { id: string } }).user.id }]);
  });

  it('with Temporal unreachable, signup answers 503 UNAVAILABLE within a few seconds', async () => {
    const broken = await startSystem({ env: { TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_CALL_TIMEOUT_MS: '2000' }, withWorker: false });
    try {
      const started = Date.now();
      const r = await new ApiClient(broken.apiUrl).post('/signup', { email: uniqueEmail('notemporal') });
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ code: 'UNAVAILABLE', message: expect.any(String) });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await broken.close();
    }
  });
});
