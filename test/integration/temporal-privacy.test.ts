import { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { randomUUID } from 'node:crypto';
import { start as startCodecServer, type CodecServer } from '../../codec-server/main';
import { deriveKeys, signupWorkflowId } from '../../common/crypto';
import { ENCRYPTED_ENCODING } from '../../temporal-config/payload-codec';
import { withDb } from '../../testkit/db';
import { quietLogger, uniqueEmail } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { canary, findCanaries } from '../support/leaks';
import { waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';
import { createAccount } from '../../testkit/accounts';
import { Authenticator } from '../../testkit/totp';
import { eventually } from '../../testkit/wait';

/**
 * What someone who can read Temporal (its UI, its CLI, its database) sees of a signup: raw
 * history, read with a client that has no codec and scanned through base64 and JSON.
 */
describe('Temporal history holds no personal data or secret', () => {
  let sys: System;
  let raw: Client;
  let codecServer: CodecServer;
  beforeAll(async () => {
    sys = await startSystem();
    raw = new Client({ connection: sys.temporal.connection, namespace: sys.config.TEMPORAL_NAMESPACE });
    codecServer = await startCodecServer({ ...sys.config, CODEC_SERVER_PORT: 0 }, quietLogger());
  });
  afterAll(async () => {
    await codecServer?.close();
    await sys?.close();
  });

  const rawHistory = async (workflowId: string) => JSON.parse(historyToJSON(await raw.workflow.getHandle(workflowId).fetchHistory()));

  it('a whole signup and verify leaves no email, name, password, hash or code in the raw history', async () => {
    const { email, name } = canary('history');
    const password = `canary passphrase ${randomUUID()}`;
    const api = new ApiClient(sys.apiUrl);
    await api.post('/signup', { email });
    const otp = await waitForCode(email);
    expect((await api.post('/verify', { email, otp, password, name })).status).toBe(201);
    const workflowId = signupWorkflowId(deriveKeys(sys.config), email);
    await sys.temporal.workflow.getHandle(workflowId).result();
    const [{ password_hash: hash }] = await withDb(sys.config.DATABASE_URL, (sql) => sql('select password_hash from users where email = ?', [email]));

    const history = await rawHistory(workflowId);
    expect(findCanaries(history, [email, email.split('@')[0], name, password, hash, otp])).toEqual([]);
    // Every payload in it is ciphertext (search attributes are not payloads of ours: checked above).
    const encodings = findCanaries(history, [ENCRYPTED_ENCODING]).length;
    expect(encodings).toBeGreaterThan(5);
  });

  it('a second factor turned on and off leaves no address, TOTP secret, code or recovery code in its notice flows, raw or decoded', async () => {
    const password = `canary passphrase ${randomUUID()}`;
    const owner = await createAccount(sys.apiUrl, 'history-mfa', password);
    const setup = await owner.client.post('/mfa/totp/setup');
    const authenticator = new Authenticator(setup.body.secret);
    const code = await authenticator.code();
    const enabled = await owner.client.post('/mfa/totp/enable', { code });
    expect(enabled.status).toBe(200);
    expect((await owner.client.post('/mfa/totp/disable', { password, code: enabled.body.recoveryCodes[0] })).status).toBe(204);
    const ids = await eventually(async () => {
      const found: string[] = [];
      for await (const w of sys.temporal.workflow.list({ query: `WorkflowType = 'mfaNoticeWorkflow' AND TaskQueue = '${sys.taskQueue}' AND ExecutionStatus = 'Completed'` })) found.push(w.workflowId);
      return found.length >= 2 ? found : undefined;
    }, 30_000, 'both notice flows completed');
    const secrets = [owner.email, owner.email.split('@')[0], setup.body.secret, code, password, ...enabled.body.recoveryCodes, ...enabled.body.recoveryCodes.map((c: string) => c.replace('-', ''))];
    for (const id of ids) {
      const history = await rawHistory(id);
      expect(findCanaries(history, secrets)).toEqual([]);
      // Decoded as an operator holding the payload keys sees it: the address is still sealed.
      const payloads = history.events.flatMap((e: Record<string, { input?: { payloads: unknown[] }; result?: { payloads: unknown[] } }>) =>
        Object.values(e).flatMap((a) => (a && typeof a === 'object' ? [a.input, a.result].filter(Boolean) : [])),
      );
      expect(payloads.length).toBeGreaterThan(0);
      for (const p of payloads) {
        const res = await fetch(`${codecServer.url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': sys.config.TEMPORAL_NAMESPACE }, body: JSON.stringify(p) });
        expect(res.status).toBe(200);
        const decoded = (await res.json()) as { payloads: { data: string }[] };
        const text = decoded.payloads.map((d) => Buffer.from(d.data, 'base64').toString('utf8')).join('\n');
        expect(findCanaries(text, secrets)).toEqual([]);
      }
    }
  });

  it('the scanner finds a planted leak: a workflow started without the codec shows its input', async () => {
    const { email } = canary('planted');
    const workflowId = `leak-probe-${randomUUID()}`;
    await raw.workflow.start('smokeWorkflow', { taskQueue: `nobody-${randomUUID()}`, workflowId, args: [email] });
    try {
      expect(findCanaries(await rawHistory(workflowId), [email]).length).toBeGreaterThan(0);
    } finally {
      await raw.workflow.getHandle(workflowId).terminate();
    }
  });

  it('the same input through the codec is unreadable raw, and readable through the codec server only', async () => {
    const { email } = canary('codec');
    const workflowId = `leak-probe-${randomUUID()}`;
    await sys.temporal.workflow.start('smokeWorkflow', { taskQueue: `nobody-${randomUUID()}`, workflowId, args: [email] });
    try {
      const history = await rawHistory(workflowId);
      expect(findCanaries(history, [email])).toEqual([]);
      const input = history.events[0].workflowExecutionStartedEventAttributes.input;
      const res = await fetch(`${codecServer.url}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': sys.config.TEMPORAL_NAMESPACE },
        body: JSON.stringify(input),
      });
      expect(res.status).toBe(200);
      const decoded = (await res.json()) as { payloads: { data: string }[] };
      expect(JSON.parse(Buffer.from(decoded.payloads[0].data, 'base64').toString('utf8'))).toBe(email);
    } finally {
      await raw.workflow.getHandle(workflowId).terminate();
    }
  });

  it('the codec server admits the Temporal UI origin and refuses others', async () => {
    const ui = new URL(sys.config.TEMPORAL_UI_URL).origin;
    const preflight = await fetch(`${codecServer.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin: ui, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ui);
    const foreign = await fetch(`${codecServer.url}/decode`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{"payloads":[]}' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const bad = await fetch(`${codecServer.url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA==","encryption-key-id":"ZGV2MQ=="},"data":"AAAA"}]}' });
    expect(bad.status).toBe(400);
  });

  it('workflow ids and search attributes name no address', async () => {
    const email = uniqueEmail('ids');
    const id = signupWorkflowId(deriveKeys(sys.config), email);
    expect(findCanaries(id, [email, email.split('@')[0]])).toEqual([]);
  });
});
