/**
 * Records real workflow histories (against the running stack) for a new release of one workflow type:
 *   npm run histories:record -- v4                      (the signup: test/histories/v4)
 *   npm run histories:record -- password-reset v2       (test/histories/password-reset/v2)
 * Writes the histories and the release's manifest (that type's source hash). A kept release is
 * never re-recorded: the replay test replays every kept release against the current code.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Authenticator } from '../testkit/totp';
import { deriveKeys, emailChangeWorkflowId, passwordResetWorkflowId, signinNoticeWorkflowId, signupWorkflowId } from '../common/crypto';
import { PATCHES } from '../temporal-config';
import { withDb } from '../testkit/db';
import { BUNDLE_PATH, uniqueEmail, uniqueIp } from '../testkit/env';
import { eventually, sleep } from '../testkit/wait';
import { ApiClient } from '../testkit/http';
import { codeOf, mailsTo, waitForCode } from '../testkit/maildev';
import { startSystem, type System } from '../testkit/system';
import { startTcpProxy } from '../testkit/tcp-proxy';
import { createAccount } from '../testkit/accounts';
import { WORKFLOW_TYPES, workflowSourceHash, type ReleaseManifest, type WorkflowTypeName } from './lib/workflow-release';

const PASSWORD = 'recorded history passphrase';
const wrongCodeFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

type Save = (name: string, workflowId: string, expected: string, on?: System) => void;
interface Recording {
  sys: System;
  api: ApiClient;
  smtp: Awaited<ReturnType<typeof startTcpProxy>>;
  smtpPort: number;
  save: Save;
  /** Waits for every save started so far. */
  settle(): Promise<void>;
}

async function main(args: string[]) {
  const [type, release] = (args.length === 1 ? ['signup', args[0]] : args) as [WorkflowTypeName, string | undefined];
  if (!(type in WORKFLOW_TYPES) || !release || !/^v\d+$/.test(release)) {
    throw new Error(`usage: npm run histories:record -- [${Object.keys(WORKFLOW_TYPES).join(' | ')}] v<N> (the new release; the type defaults to signup)`);
  }
  const out = path.join(WORKFLOW_TYPES[type].historiesDir, release);
  if (existsSync(out)) throw new Error(`${path.relative(process.cwd(), out)} exists: kept releases are never re-recorded`);
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows/index') });
  mkdirSync(path.dirname(BUNDLE_PATH), { recursive: true });
  writeFileSync(BUNDLE_PATH, code);

  const smtpPort = Number(new URL(process.env.SMTP_URL ?? 'smtp://127.0.0.1:1025').port || 1025);
  const smtp = await startTcpProxy(smtpPort);
  const sys = await startSystem({
    env: { RESEND_COOLDOWN_S: '1', SIGNUP_WINDOW_S: '20', PASSWORD_RESET_WINDOW_S: '20', EMAIL_UNDO_WINDOW_S: '20', ACCOUNT_CLOSURE_GRACE_S: '20', CODE_TTL_S: type.startsWith('email-') ? '15' : '60', EMAIL_RETRY_BUDGET_S: '120', SMTP_URL: `smtp://127.0.0.1:${smtp.port}` },
  });
  const api = new ApiClient(sys.apiUrl);
  const recorded: Record<string, string> = {};
  const pending: Promise<void>[] = [];
  /** Waits for the flow to end, checks it ended as the scenario says, and writes its history. */
  const save: Save = (name, workflowId, expected, on = sys) => {
    pending.push(
      (async () => {
        const handle = on.temporal.workflow.getHandle(workflowId);
        const outcome = await handle.result();
        if (outcome.status !== expected) throw new Error(`scenario ${name} ended ${outcome.status}, not ${expected}`);
        const json = historyToJSON(await handle.fetchHistory());
        mkdirSync(out, { recursive: true });
        writeFileSync(path.join(out, `${name}.json`), JSON.stringify(JSON.parse(json), null, 1) + '\n');
        recorded[name] = expected;
        process.stdout.write(`recorded ${type} ${release}/${name}\n`);
      })(),
    );
  };
  const settle = async () => {
    await Promise.all(pending.splice(0));
  };
  try {
    await RECORDERS[type]({ sys, api, smtp, smtpPort, save, settle });
    await settle();
    const manifest: ReleaseManifest = {
      release,
      ...(type === 'signup' ? { patch: Object.values(PATCHES).at(-1) } : {}),
      sourceHash: workflowSourceHash(type),
      recordedAt: new Date().toISOString(),
      scenarios: Object.keys(recorded).sort(),
      outcomes: recorded,
    };
    writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  } finally {
    await sys.close();
    await smtp.close();
  }
}

async function recordSignup({ sys, api, smtp, smtpPort, save: saveById, settle }: Recording): Promise<void> {
  const save = (name: string, email: string, expected: string, on: System = sys) => saveById(name, signupWorkflowId(deriveKeys(on.config), email), expected, on);
  const verify = (email: string, otp: string, client = api) => client.post('/verify', { email, otp, password: PASSWORD, name: 'Recorded' });
  const happy = uniqueEmail('history-happy');
  await api.post('/signup', { email: happy });
  await verify(happy, await waitForCode(happy));
  save('happy', happy, 'completed');

  const wrong = uniqueEmail('history-wrong');
  await api.post('/signup', { email: wrong });
  const wrongCode = await waitForCode(wrong);
  await verify(wrong, wrongCodeFor(wrongCode));
  await verify(wrong, wrongCode);
  save('wrong-code', wrong, 'completed');

  const exhausted = uniqueEmail('history-exhausted');
  await api.post('/signup', { email: exhausted });
  const exhaustedCode = await waitForCode(exhausted);
  const guesser = new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() });
  for (let i = 0; i < 6; i++) await verify(exhausted, wrongCodeFor(exhaustedCode), guesser);
  await verify(exhausted, exhaustedCode, new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() }));
  save('attempts-exhausted', exhausted, 'completed');

  const resend = uniqueEmail('history-resend');
  await api.post('/signup', { email: resend });
  await waitForCode(resend);
  await sleep(1200);
  await api.post('/resend', { email: resend });
  await verify(resend, await waitForCode(resend, 2));
  save('resend', resend, 'completed');

  const refused = uniqueEmail('history-resend-refused');
  await api.post('/signup', { email: refused });
  await api.post('/resend', { email: refused });
  await verify(refused, await waitForCode(refused));
  save('resend-refused', refused, 'completed');

  const concurrent = uniqueEmail('history-concurrent');
  await api.post('/signup', { email: concurrent });
  const concurrentCode = await waitForCode(concurrent);
  await Promise.all([verify(concurrent, concurrentCode), verify(concurrent, concurrentCode, new ApiClient(sys.apiUrl))]);
  save('concurrent-verifies', concurrent, 'completed');

  const taken = uniqueEmail('history-taken');
  await api.post('/signup', { email: taken });
  const takenCode = await waitForCode(taken);
  await withDb(sys.config.DATABASE_URL, (sql) =>
    sql(`insert into users (id, email, name, password_hash, email_verified_at, signup_ref, created_at, updated_at)
         values (gen_random_uuid(), ?, 'Other', 'x', now(), 'elsewhere', now(), now())`, [taken]),
  );
  await verify(taken, takenCode);
  save('email-taken', taken, 'existing_account');

  const expired = uniqueEmail('history-expired');
  await api.post('/signup', { email: expired });
  await waitForCode(expired);
  save('expired', expired, 'expired');

  await api.post('/signup', { email: happy });
  save('existing-account', happy, 'existing_account');

  await settle();

  // The mail server refuses every connection until the signup's mail budget (4 s here) is spent.
  const refusing = await startTcpProxy(smtpPort, 'refuse');
  const short = await startSystem({
    env: { SIGNUP_WINDOW_S: '60', EMAIL_RETRY_BUDGET_S: '4', SMTP_URL: `smtp://127.0.0.1:${refusing.port}` },
  });
  try {
    const budget = uniqueEmail('history-mail-budget');
    await new ApiClient(short.apiUrl).post('/signup', { email: budget });
    save('mail-budget-spent', budget, 'mail_failed', short);
    await settle();
  } finally {
    await short.close();
    await refusing.close();
  }

  // The worker stops while the mail is failing; a new worker takes the signup over.
  smtp.setMode('refuse');
  const restart = uniqueEmail('history-worker-restart');
  await api.post('/signup', { email: restart });
  await sleep(1500);
  await sys.stopWorker();
  smtp.setMode('forward');
  await sys.startWorker();
  await verify(restart, await waitForCode(restart));
  save('worker-restart-mid-send', restart, 'completed');
  await settle();
}

async function recordPasswordReset({ sys, api, save: saveById }: Recording): Promise<void> {
  const keys = deriveKeys(sys.config);
  const save = (name: string, email: string, expected: string) => saveById(name, passwordResetWorkflowId(keys, email), expected);
  const reset = (email: string, code: string, client = api) => client.post('/password/reset', { email, code, password: PASSWORD });
  const forgot = (email: string) => api.post('/password/forgot', { email });
  const account = (tag: string) => createAccount(sys.apiUrl, tag, 'a first recorded passphrase');
  /** The `n`-th reset code mailed to an address (the account's first mail is its signup code). */
  const resetCode = (email: string, n = 1) => waitForCode(email, n + 1);

  const happy = await account('history-reset-happy');
  await forgot(happy.email);
  await reset(happy.email, await resetCode(happy.email));
  save('happy', happy.email, 'completed');

  const wrong = await account('history-reset-wrong');
  await forgot(wrong.email);
  const wrongCode = await resetCode(wrong.email);
  await reset(wrong.email, wrongCodeFor(wrongCode));
  await reset(wrong.email, wrongCode);
  save('wrong-code', wrong.email, 'completed');

  const exhausted = await account('history-reset-exhausted');
  await forgot(exhausted.email);
  const exhaustedCode = await resetCode(exhausted.email);
  const guesser = new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() });
  for (let i = 0; i < 6; i++) await reset(exhausted.email, wrongCodeFor(exhaustedCode), guesser);
  await reset(exhausted.email, exhaustedCode, new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() }));
  save('attempts-exhausted', exhausted.email, 'completed');

  const resend = await account('history-reset-resend');
  await forgot(resend.email);
  await resetCode(resend.email);
  await sleep(1200);
  await forgot(resend.email);
  await reset(resend.email, await resetCode(resend.email, 2));
  save('resend', resend.email, 'completed');

  const retried = await account('history-reset-retried');
  await forgot(retried.email);
  const retriedCode = await resetCode(retried.email);
  await reset(retried.email, retriedCode);
  await reset(retried.email, retriedCode);
  save('code-reused', retried.email, 'completed');

  const unknown = uniqueEmail('history-reset-unknown');
  await forgot(unknown);
  await reset(unknown, '000000');
  save('unknown-email', unknown, 'expired');

  const expired = await account('history-reset-expired');
  await forgot(expired.email);
  await resetCode(expired.email);
  save('expired', expired.email, 'expired');
}

async function recordPasswordChange({ sys, save }: Recording): Promise<void> {
  const owner = await createAccount(sys.apiUrl, 'history-change', 'a first recorded passphrase');
  await new ApiClient(sys.apiUrl).post('/signin', { email: owner.email, password: owner.password });
  await owner.client.post('/password/change', { currentPassword: owner.password, newPassword: PASSWORD });
  const query = `WorkflowType = 'passwordChangeWorkflow' AND TaskQueue = '${sys.taskQueue}'`;
  for (let i = 0; i < 100; i++) {
    for await (const wf of sys.temporal.workflow.list({ query })) {
      save('happy', wf.workflowId, 'completed');
      return;
    }
    await sleep(200);
  }
  throw new Error('the password change workflow did not show in visibility');
}

/** The undo workflow's id, from the link in the notice mailed to the old address. */
async function undoIdFrom(oldEmail: string): Promise<{ workflowId: string; token: string }> {
  const notice = await eventually(async () => (await mailsTo(oldEmail)).find((m) => m.subject === 'Your CFD Broker email address was changed'), 30_000, 'email change notice');
  const token = /token=([A-Za-z0-9._-]+)/.exec(notice.text)![1];
  return { workflowId: token.split('.')[0], token };
}

/** Email change scenarios; `undo` also saves the undo windows they open. */
async function recordEmailChange(r: Recording, undo: boolean): Promise<void> {
  const { sys, save } = r;
  const keys = deriveKeys(sys.config);
  const owner = () => createAccount(sys.apiUrl, 'history-email', 'a first recorded passphrase');
  const change = async (tag: string, newEmail = uniqueEmail(tag)) => {
    const a = await owner();
    await a.client.post('/email/change', { newEmail, password: a.password });
    return { ...a, newEmail, flowId: emailChangeWorkflowId(keys, a.user.id) };
  };
  const codeTo = async (email: string) => codeOf(await eventually(async () => (await mailsTo(email)).find((m) => m.subject === 'Confirm your new CFD Broker email'), 30_000, 'email change code'));

  const happy = await change('history-email-happy');
  await happy.client.post('/email/verify', { code: await codeTo(happy.newEmail) });
  const undone = await undoIdFrom(happy.email);
  await new ApiClient(sys.apiUrl).post('/email/undo', { token: undone.token });

  const wrong = await change('history-email-wrong');
  const wrongCode = await codeTo(wrong.newEmail);
  await wrong.client.post('/email/verify', { code: wrongCodeFor(wrongCode) });
  await wrong.client.post('/email/verify', { code: wrongCode });
  const kept = await undoIdFrom(wrong.email);

  const taken = await change('history-email-taken', (await owner()).email);
  await taken.client.post('/email/verify', { code: '000000' });

  if (undo) {
    save('undone', undone.workflowId, 'undone');
    await new ApiClient(sys.apiUrl).post('/email/undo', { token: `${kept.workflowId}.${'A'.repeat(43)}` });
    save('window-closed', kept.workflowId, 'completed');
  } else {
    save('happy', happy.flowId, 'completed');
    save('wrong-code', wrong.flowId, 'completed');
    save('address-taken', taken.flowId, 'expired');
  }
}

/** Account closure: restored with the mailed link, erased after the grace period, and erased despite a forged link. */
async function recordAccountClosure({ sys, save }: Recording): Promise<void> {
  const closeOne = async (tag: string) => {
    const owner = await createAccount(sys.apiUrl, tag, PASSWORD);
    await owner.client.call('DELETE', '/me', { password: PASSWORD });
    const notice = await eventually(async () => (await mailsTo(owner.email)).find((m) => m.subject === 'Your CFD Broker account was closed'), 30_000, 'closure notice');
    const token = /token=([A-Za-z0-9._-]+)/.exec(notice.text)![1];
    return { token, workflowId: token.split('.')[0] };
  };
  const restored = await closeOne('history-closure-restored');
  await new ApiClient(sys.apiUrl).post('/me/restore', { token: restored.token });
  save('restored', restored.workflowId, 'restored');
  const erased = await closeOne('history-closure-erased');
  save('erased', erased.workflowId, 'erased');
  const forged = await closeOne('history-closure-forged');
  await new ApiClient(sys.apiUrl).post('/me/restore', { token: `${forged.workflowId}.${'A'.repeat(43)}` });
  save('forged-token', forged.workflowId, 'erased');
}

/** A sign-in from a new device (no device cookie): its notice's flow, found by the session id in the token. */
async function recordSigninNotice({ sys, save }: Recording): Promise<void> {
  const owner = await createAccount(sys.apiUrl, 'history-signin-notice', PASSWORD);
  const r = await new ApiClient(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD });
  const token = r.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('auth_token='))!.slice('auth_token='.length);
  const { sid } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { sid: string };
  save('happy', signinNoticeWorkflowId(deriveKeys(sys.config), sid), 'completed');
}

/** TOTP turned on, then off: the notice flows of both changes. */
async function recordMfaNotice({ sys, save }: Recording): Promise<void> {
  const owner = await createAccount(sys.apiUrl, 'history-mfa-notice', PASSWORD);
  const setup = await owner.client.post('/mfa/totp/setup');
  const authenticator = new Authenticator(setup.body.secret);
  const enabled = await owner.client.post('/mfa/totp/enable', { code: await authenticator.code() });
  if (enabled.status !== 200) throw new Error(`enable answered ${enabled.status}: ${enabled.text}`);
  const flows = await eventually(async () => {
    const ids: string[] = [];
    for await (const w of sys.temporal.workflow.list({ query: `WorkflowType = 'mfaNoticeWorkflow' AND TaskQueue = '${sys.taskQueue}' AND ExecutionStatus = 'Completed'` })) ids.push(w.workflowId);
    return ids.length > 0 ? ids : undefined;
  }, 30_000, 'the mfa notice flow');
  save('happy', flows[0], 'completed');
}

const RECORDERS: Record<WorkflowTypeName, (r: Recording) => Promise<void>> = {
  signup: recordSignup,
  'password-reset': recordPasswordReset,
  'password-change': recordPasswordChange,
  'email-change': (r) => recordEmailChange(r, false),
  'email-undo': (r) => recordEmailChange(r, true),
  'account-closure': recordAccountClosure,
  'signin-notice': recordSigninNotice,
  'mfa-notice': recordMfaNotice,
};

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`recording failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
