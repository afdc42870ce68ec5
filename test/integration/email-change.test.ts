import { deriveKeys, emailChangeWorkflowId } from '../../common/crypto';
import { emailChangeStateQuery } from '../../workflows/email-change.contract';
import { createAccount } from '../../testkit/accounts';
import { uniqueEmail } from '../../testkit/env';
import { eventually } from '../../testkit/wait';
import { fromNewSource, type HttpResponse } from '../../testkit/http';
import { codeOf, mailsTo, mailWithSubject } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';

const PASSWORD = 'an email changing passphrase';
const CODE_SUBJECT = 'Confirm your new CFD Broker email';
const NOTICE_SUBJECT = 'Your CFD Broker email address was changed';
const PER_REQUEST = new Set(['date', 'x-request-id', 'etag']);

function shape(r: HttpResponse) {
  const headers = Object.fromEntries([...r.headers.entries()].filter(([k]) => !PER_REQUEST.has(k)));
  return { status: r.status, body: r.body, headers };
}


describe('email change: POST /email/change, /email/verify, /email/undo', () => {
  let sys: System;
  useSystem({}, (started) => {
    sys = started;
  });

  it('moves the account to a confirmed address, revokes the other sessions, and the old address can undo it, revoking every session', async () => {
    const owner = await createAccount(sys.apiUrl, 'email-change', PASSWORD);
    const other = fromNewSource(sys.apiUrl);
    expect((await other.post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(200);
    const newEmail = uniqueEmail('email-change-new');

    expect((await owner.client.post('/email/change', { newEmail, password: PASSWORD })).status).toBe(202);
    const verified = await owner.client.post('/email/verify', { code: codeOf(await mailWithSubject(newEmail, CODE_SUBJECT)) });
    expect(verified.status).toBe(200);
    expect(verified.body.user).toEqual({ ...owner.user, email: newEmail });
    expect((await owner.client.get('/me')).body.user.email).toBe(newEmail);
    expect((await other.get('/me')).status).toBe(401);
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: newEmail, password: PASSWORD })).status).toBe(200);
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(401);

    const notice = await mailWithSubject(owner.email, NOTICE_SUBJECT);
    expect(notice.text).not.toContain(newEmail);
    const token = /token=([A-Za-z0-9._-]+)/.exec(notice.text)![1];
    const undo = await fromNewSource(sys.apiUrl).post('/email/undo', { token });
    expect(undo.status).toBe(200);
    expect((await owner.client.get('/me')).status).toBe(401);
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(200);
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: newEmail, password: PASSWORD })).status).toBe(401);
    // The link works once.
    const again = await fromNewSource(sys.apiUrl).post('/email/undo', { token });
    expect({ status: again.status, code: again.body.code }).toEqual({ status: 400, code: 'INVALID_TOKEN' });
  });

  it('an address another account has gets the same answers as a free one, and no mail', async () => {
    const holder = await createAccount(sys.apiUrl, 'email-holder', PASSWORD);
    const script = async (newEmail: string) => {
      const { client, user } = await createAccount(sys.apiUrl, 'email-asker', PASSWORD);
      const change = await client.post('/email/change', { newEmail, password: PASSWORD });
      // Both flows issue a code (only the free address gets it): compare them in the same state.
      const flow = sys.temporal.workflow.getHandle(emailChangeWorkflowId(deriveKeys(sys.config), user.id));
      await eventually(async () => ((await flow.query(emailChangeStateQuery)).codesIssued >= 1 ? true : undefined));
      const wrong = await client.post('/email/verify', { code: '000000' });
      return [change, wrong];
    };
    const free = uniqueEmail('email-free');
    const [a, b] = [await script(holder.email), await script(free)];
    const freeCode = codeOf(await mailWithSubject(free, CODE_SUBJECT));
    if (freeCode === '000000') return;
    a.forEach((r, i) => expect(shape(r)).toEqual(shape(b[i])));
    expect(a.map((r) => `${r.status} ${r.body.code ?? ''}${r.body.attemptsLeft ?? ''}`)).toEqual(['202 ', '400 INVALID_CODE4']);
    expect((await mailsTo(holder.email)).filter((m) => m.subject === CODE_SUBJECT)).toEqual([]);
  });

  it('a wrong password is refused; a wrong code counts down; a forged link is refused', async () => {
    const owner = await createAccount(sys.apiUrl, 'email-wrong', PASSWORD);
    const refused = await owner.client.post('/email/change', { newEmail: uniqueEmail('email-wrong-new'), password: 'not the password at all' });
    expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 400, code: 'INVALID_CURRENT_PASSWORD' });
    const noPending = await owner.client.post('/email/verify', { code: '123456' });
    expect({ status: noPending.status, code: noPending.body.code }).toEqual({ status: 410, code: 'CODE_EXPIRED' });

    const newEmail = uniqueEmail('email-wrong-new');
    await owner.client.post('/email/change', { newEmail, password: PASSWORD });
    const code = codeOf(await mailWithSubject(newEmail, CODE_SUBJECT));
    const wrong = await owner.client.post('/email/verify', { code: String((Number(code) + 1) % 1_000_000).padStart(6, '0') });
    expect({ status: wrong.status, code: wrong.body.code, attemptsLeft: wrong.body.attemptsLeft }).toEqual({ status: 400, code: 'INVALID_CODE', attemptsLeft: 4 });
    expect((await owner.client.post('/email/verify', { code })).status).toBe(200);

    const notice = await mailWithSubject(owner.email, NOTICE_SUBJECT);
    const token = /token=([A-Za-z0-9._-]+)/.exec(notice.text)![1];
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const t of [forged, 'email-undo-nonsense.x', token.split('.')[0]]) {
      const r = await fromNewSource(sys.apiUrl).post('/email/undo', { token: t });
      expect({ t, status: r.status, code: r.body.code }).toEqual({ t, status: 400, code: 'INVALID_TOKEN' });
    }
    expect((await owner.client.get('/me')).body.user.email).toBe(newEmail);
  });
});
