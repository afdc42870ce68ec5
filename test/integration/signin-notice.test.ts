import { WorkflowNotFoundError } from '@temporalio/common';
import { deriveKeys, signinNoticeWorkflowId } from '../../common/crypto';
import { createAccount } from '../../testkit/accounts';
import { uniqueIp } from '../../testkit/env';
import { ApiClient, deviceCookieOf, type HttpResponse, fromNewSource } from '../../testkit/http';
import { mailsTo, type Mail } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';
import { eventually } from '../../testkit/wait';

const PASSWORD = 'a noticed sign-in passphrase';
const SUBJECT = 'New sign-in to your CFD Broker account';

/** The session id inside a sign-in answer's session token (a JWT; the claim is `sid`). */
function sessionIdOf(r: HttpResponse): string {
  const token = r.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('auth_token='))!.slice('auth_token='.length);
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).sid as string;
}

describe('new sign-in notice', () => {
  let sys: System;
  useSystem({}, (started) => {
    sys = started;
  });
  const notices = async (email: string) => (await mailsTo(email)).filter((m: Mail) => m.subject === SUBJECT);
  const noticeFlow = (r: HttpResponse) => sys.temporal.workflow.getHandle(signinNoticeWorkflowId(deriveKeys(sys.config), sessionIdOf(r)));
  /** The sign-in answered before its notice started (that is the point): wait for the flow to exist. */
  const noticeOutcome = (r: HttpResponse) =>
    eventually(async () => {
      try {
        return await noticeFlow(r).result();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    }, 30_000, 'the notice flow of a sign-in');

  it('a sign-in from a new device mails the owner where and how; one from a device that signed in before does not', async () => {
    const owner = await createAccount(sys.apiUrl, 'signin-notice', PASSWORD);
    const ip = uniqueIp();
    const browser = new ApiClient(sys.apiUrl, { 'x-forwarded-for': ip, 'user-agent': 'NoticeTest/1.0 <b>bold</b>' });
    const first = await browser.post('/signin', { email: owner.email, password: PASSWORD });
    expect(first.status).toBe(200);
    const [notice] = await eventually(async () => ((await notices(owner.email)).length >= 1 ? notices(owner.email) : undefined), 30_000, 'the new sign-in notice');
    expect(notice.text).toContain(`IP address: ${ip}`);
    expect(notice.text).toContain('NoticeTest/1.0');
    // The user agent is the client's word: escaped in the HTML part.
    expect(notice.html).not.toContain('<b>bold</b>');
    expect(await noticeOutcome(first)).toEqual({ status: 'completed' });

    // The same device again (its device cookie): no notice is started at all.
    const again = await browser.post('/signin', { email: owner.email, password: PASSWORD }, { cookie: deviceCookieOf(first) });
    expect(again.status).toBe(200);
    // Another new device afterwards: its notice arrives, and the trusted sign-in's never started.
    const other = await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD });
    expect(await noticeOutcome(other)).toEqual({ status: 'completed' });
    await expect(noticeFlow(again).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(await notices(owner.email)).toHaveLength(2);
  });

  it('a failed sign-in mails nothing', async () => {
    const owner = await createAccount(sys.apiUrl, 'signin-notice-fail', PASSWORD);
    const wrong = await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: 'not the right one at all' });
    expect(wrong.status).toBe(401);
    const right = await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD });
    expect(await noticeOutcome(right)).toEqual({ status: 'completed' });
    expect(await notices(owner.email)).toHaveLength(1);
  });
});
