/**
 * Records real signup workflow histories (against the running stack) into test/histories/, for
 * the replay tests. Run after a deliberate, versioned change to the workflow:
 *   npm run histories:record
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode } from '@temporalio/worker';
import { deriveKeys, signupWorkflowId } from '../common/crypto';
import { BUNDLE_PATH, sleep, uniqueEmail } from '../test/support/env';
import { ApiClient } from '../test/support/http';
import { waitForCode } from '../test/support/maildev';
import { startSystem, type System } from '../test/support/system';

const OUT = path.resolve(__dirname, '../test/histories');
const PASSWORD = 'recorded history passphrase';

async function save(sys: System, name: string, email: string) {
  const handle = sys.temporal.workflow.getHandle(signupWorkflowId(deriveKeys(sys.config), email));
  await handle.result();
  const json = historyToJSON(await handle.fetchHistory());
  writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify(JSON.parse(json), null, 1) + '\n');
  process.stdout.write(`recorded ${name}\n`);
}

async function main() {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows/index') });
  mkdirSync(path.dirname(BUNDLE_PATH), { recursive: true });
  writeFileSync(BUNDLE_PATH, code);
  mkdirSync(OUT, { recursive: true });
  const sys = await startSystem({ env: { RESEND_COOLDOWN_S: '1', SIGNUP_WINDOW_S: '4', CODE_TTL_S: '60' } });
  const api = new ApiClient(sys.apiUrl);
  try {
    const happy = uniqueEmail('history-happy');
    await api.post('/signup', { email: happy });
    await api.post('/verify', { email: happy, otp: await waitForCode(happy), password: PASSWORD, name: 'Happy' });
    await save(sys, 'happy', happy);

    const wrong = uniqueEmail('history-wrong');
    await api.post('/signup', { email: wrong });
    const wrongCode = await waitForCode(wrong);
    await api.post('/verify', { email: wrong, otp: String((Number(wrongCode) + 1) % 1e6).padStart(6, '0'), password: PASSWORD, name: 'Wrong' });
    await api.post('/verify', { email: wrong, otp: wrongCode, password: PASSWORD, name: 'Wrong' });
    await save(sys, 'wrong-code', wrong);

    const resend = uniqueEmail('history-resend');
    await api.post('/signup', { email: resend });
    await waitForCode(resend);
    await sleep(1200);
    await api.post('/resend', { email: resend });
    await api.post('/verify', { email: resend, otp: await waitForCode(resend, 2), password: PASSWORD, name: 'Resend' });
    await save(sys, 'resend', resend);

    const expired = uniqueEmail('history-expired');
    await api.post('/signup', { email: expired });
    await waitForCode(expired);
    await save(sys, 'expired', expired);

    await api.post('/signup', { email: happy });
    await save(sys, 'existing-account', happy);
  } finally {
    await sys.close();
  }
}

main().catch((err) => {
  process.stderr.write(`recording failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
