/**
 * Records real signup workflow histories (against the running stack) for a new workflow release:
 *   npm run histories:record -- v4
 * Writes test/histories/v4/*.json and its manifest (the workflow sources' hash). A kept release is
 * never re-recorded: the replay test replays every kept release against the current code.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode } from '@temporalio/worker';
import { deriveKeys, signupWorkflowId } from '../common/crypto';
import { PATCHES } from '../temporal-config';
import { withDb } from '../testkit/db';
import { BUNDLE_PATH, uniqueEmail, uniqueIp } from '../testkit/env';
import { sleep } from '../testkit/wait';
import { ApiClient } from '../testkit/http';
import { waitForCode } from '../testkit/maildev';
import { startSystem, type System } from '../testkit/system';
import { startTcpProxy } from '../testkit/tcp-proxy';
import { HISTORIES_DIR, workflowSourceHash, type ReleaseManifest } from './lib/workflow-release';

const PASSWORD = 'recorded history passphrase';
const wrongCodeFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

async function main(release: string | undefined) {
  if (!release || !/^v\d+$/.test(release)) throw new Error('usage: npm run histories:record -- v<N> (the new release)');
  const out = path.join(HISTORIES_DIR, release);
  if (existsSync(out)) throw new Error(`${path.relative(process.cwd(), out)} exists: kept releases are never re-recorded`);
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows/index') });
  mkdirSync(path.dirname(BUNDLE_PATH), { recursive: true });
  writeFileSync(BUNDLE_PATH, code);

  const smtpPort = Number(new URL(process.env.SMTP_URL ?? 'smtp://127.0.0.1:1025').port || 1025);
  const smtp = await startTcpProxy(smtpPort);
  const sys = await startSystem({
    env: { RESEND_COOLDOWN_S: '1', SIGNUP_WINDOW_S: '20', CODE_TTL_S: '60', EMAIL_RETRY_BUDGET_S: '120', SMTP_URL: `smtp://127.0.0.1:${smtp.port}` },
  });
  const api = new ApiClient(sys.apiUrl);
  const recorded: Record<string, string> = {};
  const pending: Promise<void>[] = [];
  /** Waits for the signup to end, checks it ended as the scenario says, and writes its history. */
  const save = (name: string, email: string, expected: string, on: System = sys) => {
    pending.push(
      (async () => {
        const handle = on.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(on.config), email));
        const outcome = await handle.result();
        if (outcome.status !== expected) throw new Error(`scenario ${name} ended ${outcome.status}, not ${expected}`);
        const json = historyToJSON(await handle.fetchHistory());
        mkdirSync(out, { recursive: true });
        writeFileSync(path.join(out, `${name}.json`), JSON.stringify(JSON.parse(json), null, 1) + '\n');
        recorded[name] = expected;
        process.stdout.write(`recorded ${release}/${name}\n`);
      })(),
    );
  };
  const verify = (email: string, otp: string, client = api) => client.post('/verify', { email, otp, password: PASSWORD, name: 'Recorded' });
  try {
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

    await Promise.all(pending.splice(0));

    // The mail server refuses every connection until the signup's mail budget (4 s here) is spent.
    const refusing = await startTcpProxy(smtpPort, 'refuse');
    const short = await startSystem({
      env: { SIGNUP_WINDOW_S: '60', EMAIL_RETRY_BUDGET_S: '4', SMTP_URL: `smtp://127.0.0.1:${refusing.port}` },
    });
    try {
      const budget = uniqueEmail('history-mail-budget');
      await new ApiClient(short.apiUrl).post('/signup', { email: budget });
      save('mail-budget-spent', budget, 'mail_failed', short);
      await Promise.all(pending.splice(0));
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
    await Promise.all(pending.splice(0));

    const manifest: ReleaseManifest = {
      release,
      patch: Object.values(PATCHES).at(-1),
      sourceHash: workflowSourceHash(),
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

main(process.argv[2]).catch((err) => {
  process.stderr.write(`recording failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
