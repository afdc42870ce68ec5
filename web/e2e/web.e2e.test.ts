/**
 * Browser end-to-end tests of the web client against the real backend.
 *
 * The whole backend runs in-process (startSystem), the built web app runs under `next start` on a free port of
 * 127.0.0.1, and Debian's Chromium is driven by playwright-core. The page is pointed at this test's API with
 * `window.__API_URL__` (an init script), so the build needs no NEXT_PUBLIC_API_URL. Page and API share the host
 * 127.0.0.1, so the SameSite=Lax session cookie travels with the page's requests.
 *
 * Needs: the local stack (PostgreSQL, Redis, Kafka, Temporal, MailDev) up, /usr/bin/chromium
 * (scripts/lib/ensure-chromium.sh). The web app is built here if needed (scripts/lib/ensure-web.sh).
 * On failure every open page is saved to test-results/screenshots/<test>[-N].png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { createAccount } from '../../testkit/accounts';
import { uniqueEmail } from '../../testkit/env';
import { codeOf, mailsTo, mailWithSubject, waitForCode, type Mail } from '../../testkit/maildev';
import { REPO_ROOT, freePort } from '../../testkit/supervisor';
import { startSystem } from '../../testkit/system';
import { eventually } from '../../testkit/wait';
import { Authenticator, totpCode } from '../../testkit/totp';
import Redis from 'ioredis';
import { startBuiltWeb, type RunningWeb } from '../../testkit/web';

const SCREENSHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const HOST = '127.0.0.1';

/** Bound of every single wait in a page (a navigation, an element, a message). */
const WAIT_MS = 15_000;
/** Bound of the wait for the verification email (workflow, Kafka, SMTP). */
const MAIL_WAIT_MS = 45_000;
const PASSWORD = 'quiet violet harbour 42';

type System = Awaited<ReturnType<typeof startSystem>>;

let system: System | undefined;
let web: RunningWeb | undefined;
let webUrl = '';
let apiUrl = '';
/** The same web app and API under the host name localhost: WebAuthn refuses an IP address as the relying party. */
let webLocal = '';
let apiLocal = '';
let browser: Browser | undefined;

// ---------------------------------------------------------------------------------------------------------------
// Setup and teardown

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash scripts/lib/ensure-chromium.sh`);
  web = await startBuiltWeb('web-e2e');
  webUrl = web.url;
  webLocal = webUrl.replace(HOST, 'localhost');
  // The first origin stays the one mails link to; the API derives the passkeys' RP id (localhost) from the second.
  system = await startSystem({ webOrigins: [webUrl, webLocal] });
  // The page and the API must be on the same host for the SameSite=Lax cookie.
  const api = new URL(system.apiUrl);
  api.hostname = HOST;
  apiUrl = api.toString().replace(/\/+$/, '');
  api.hostname = 'localhost';
  apiLocal = api.toString().replace(/\/+$/, '');

  // launch() gives the browser a fresh temporary user-data dir; every test works in new contexts of it.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 420_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await web?.process.stop(8_000);
  await system?.close();
}, 60_000);

// ---------------------------------------------------------------------------------------------------------------
// Helpers

interface Pages {
  /** A page in a fresh browser context (its own cookies), talking to `api` (this test's API by default). */
  open(opts?: { api?: string }): Promise<Page>;
}

/** Runs a test body with fresh contexts, saving a screenshot of each open page when it fails. */
function browserTest(name: string, body: (pages: Pages) => Promise<void>): () => Promise<void> {
  return async () => {
    const contexts: BrowserContext[] = [];
    const opened: Page[] = [];
    const pages: Pages = {
      async open(opts = {}) {
        if (!browser) throw new Error('the browser did not start');
        const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
        contexts.push(context);
        context.setDefaultTimeout(WAIT_MS);
        context.setDefaultNavigationTimeout(WAIT_MS);
        await context.addInitScript((url: string) => {
          (window as unknown as { __API_URL__: string }).__API_URL__ = url;
        }, opts.api ?? apiUrl);
        const page = await context.newPage();
        opened.push(page);
        return page;
      },
    };
    try {
      await body(pages);
    } catch (err) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      for (const [i, page] of opened.entries()) {
        if (page.isClosed()) continue;
        const file = path.join(SCREENSHOTS, `${name}${i === 0 ? '' : `-${i + 1}`}.png`);
        await page.screenshot({ path: file, fullPage: true, timeout: 5_000 }).catch(() => undefined);
      }
      throw err;
    } finally {
      for (const context of contexts) await context.close().catch(() => undefined);
    }
  };
}


/** The 6-digit code of the newest mail to `email`, waiting until one arrives. */
async function codeFor(email: string, timeoutMs = MAIL_WAIT_MS): Promise<string> {
  return eventually(async () => {
    const newest = (await mailsTo(email)).at(-1);
    return newest ? codeOf(newest) : undefined;
  }, timeoutMs, `a code mailed to ${email}`, 300);
}


/** The link to `path` (with its ?token=) in a mail's text. */
function linkIn(mail: Mail, path: string): string {
  const m = new RegExp(`https?://\\S+${path}\\?token=[^\\s"<>]+`).exec(mail.text);
  if (!m) throw new Error(`no ${path} link in "${mail.subject}"`);
  return m[0];
}

/** Waits for the element and returns its text, white space collapsed. */
async function textOf(locator: Locator): Promise<string> {
  await locator.waitFor();
  return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/** Waits until the page's alert says something matching `pattern`, and returns what it says. */
async function alertText(page: Page, pattern: RegExp): Promise<string> {
  return textOf(page.getByRole('alert').filter({ hasText: pattern }));
}

async function signUp(page: Page, email: string): Promise<void> {
  await page.goto(`${webUrl}/signup`);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.waitForURL(/\/verify\?email=/);
}

async function signIn(page: Page, email: string, password = PASSWORD, base = webUrl): Promise<void> {
  await page.goto(`${base}/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${base}/account`);
  await page.getByRole('heading', { name: 'Active sessions' }).waitFor();
}

const sessionItems = (page: Page) => page.getByRole('list', { name: 'Active sessions' }).getByRole('listitem');

async function expectSessionCount(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    (count) => document.querySelectorAll('ul.sessions > li').length === count,
    n,
    { timeout: WAIT_MS },
  );
  expect(await sessionItems(page).count()).toBe(n);
}

/** From /account to its password and email page. */
async function openSecurity(page: Page, base = webUrl): Promise<void> {
  await page.goto(`${base}/account`);
  await page.getByRole('link', { name: 'Password, email and closing your account' }).click();
  await page.waitForURL(`${base}/account/security`);
  await page.getByRole('heading', { name: 'Account security', level: 1 }).waitFor();
}

/** Loads /account and expects to be sent to /signin (the session is gone). */
async function expectSignedOut(page: Page): Promise<void> {
  await page.goto(`${webUrl}/account`);
  await page.waitForURL(/\/signin/);
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
}

// ---------------------------------------------------------------------------------------------------------------
// Tests

describe('web client in a browser', () => {
  it(
    'signs up, verifies, manages sessions, signs out and in again',
    browserTest('journey', async (pages) => {
      const email = uniqueEmail('journey');
      const page = await pages.open();

      // The root sends a visitor without a session to sign-in; from there to sign-up.
      await page.goto(`${webUrl}/`);
      await page.waitForURL(/\/signin/);
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.waitForURL(/\/signup/);

      // Keyboard only: the email field has focus, Enter submits.
      await page.getByLabel('Email').waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('email');
      await page.keyboard.type(email);
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/verify\?email=/);
      expect(new URL(page.url()).searchParams.get('email')).toBe(email);

      // The resend button waits out the cooldown, and says so.
      const resend = page.getByRole('button', { name: /Resend code/ });
      expect(await textOf(resend)).toMatch(/^Resend code in \d+ s$/);
      expect(await resend.isDisabled()).toBe(true);

      const code = await codeFor(email);
      await page.getByLabel('Verification code').fill(code);
      await page.getByLabel('Full name').fill('Ada Lovelace');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel('Password', { exact: true }).press('Enter');

      await page.waitForURL(`${webUrl}/account`);
      expect(await textOf(page.getByTestId('profile-email'))).toBe(email);
      expect(await textOf(page.getByTestId('profile-name'))).toBe('Ada Lovelace');
      await expectSessionCount(page, 1);
      expect(await textOf(sessionItems(page).first())).toContain('This device');
      // The session lives in the HttpOnly cookie only.
      expect(await page.evaluate(() => window.localStorage.length + window.sessionStorage.length)).toBe(0);
      expect(await page.evaluate(() => document.cookie)).not.toContain('auth_token');

      // A second browser signs in; the first one sees it and revokes it.
      const other = await pages.open();
      await signIn(other, email);
      await expectSessionCount(other, 2);

      await page.reload();
      await expectSessionCount(page, 2);
      const revoke = page.getByRole('button', { name: /^Revoke/ });
      expect(await revoke.count()).toBe(1);
      await revoke.click();
      await textOf(page.getByRole('status').filter({ hasText: 'Session revoked' }));
      await expectSessionCount(page, 1);
      await expectSignedOut(other);

      // The second browser signs in again; "Sign out everywhere" in the first ends both.
      await signIn(other, email);
      await page.reload();
      await expectSessionCount(page, 2);
      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await page.waitForURL(/\/signin\?reason=signed-out-everywhere/);
      await textOf(page.getByRole('status').filter({ hasText: 'signed out on every device' }));
      await expectSignedOut(page);
      await expectSignedOut(other);

      // Sign in again, then sign out.
      await signIn(page, email);
      expect(await textOf(page.getByTestId('profile-email'))).toBe(email);
      await page.goto(`${webUrl}/`);
      await page.waitForURL(`${webUrl}/account`);
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.waitForURL(/\/signin\?reason=signed-out/);
      await expectSignedOut(page);
      await page.goto(`${webUrl}/`);
      await page.waitForURL(/\/signin/);

      // A wrong password is told apart from a network problem.
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password', { exact: true }).fill('not the password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      expect(await alertText(page, /wrong/)).toBe('Email or password is wrong.');
    }),
    180_000,
  );

  it(
    'says a wrong code is wrong and how many attempts are left',
    browserTest('wrong-code', async (pages) => {
      const email = uniqueEmail('wrong-code');
      const page = await pages.open();
      await signUp(page, email);
      const code = await codeFor(email);
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');

      await page.getByLabel('Verification code').fill(wrong);
      await page.getByLabel('Full name').fill('Grace Hopper');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();

      const first = await alertText(page, /That code is wrong/);
      const match = /^That code is wrong\. (\d+) attempts? left\.$/.exec(first);
      expect(match).not.toBeNull();
      const left = Number(match![1]);
      expect(left).toBeGreaterThan(0);
      // Focus moves to the message, and the wrong code is cleared for the next try.
      expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('alert');
      expect(await page.getByLabel('Verification code').inputValue()).toBe('');

      await page.getByLabel('Verification code').fill(wrong);
      await page.getByRole('button', { name: 'Create account' }).click();
      const second = await alertText(page, new RegExp(`${left - 1} attempts? left|Too many wrong codes`));
      expect(second).toBe(left - 1 > 0 ? `That code is wrong. ${left - 1} ${left - 1 === 1 ? 'attempt' : 'attempts'} left.` : 'Too many wrong codes. Request a new code.');
    }),
    120_000,
  );

  it(
    'says so when the API cannot be reached',
    browserTest('api-unreachable', async (pages) => {
      const closedPort = await freePort();
      const page = await pages.open({ api: `http://${HOST}:${closedPort}/api/v1/auth` });
      const message = "Can't reach the server. Check your connection and try again.";

      await page.goto(`${webUrl}/signup`);
      await page.getByLabel('Email').fill(uniqueEmail('offline'));
      const send = page.getByRole('button', { name: 'Send code' });
      await send.click();
      expect(await alertText(page, /reach the server/)).toBe(message);
      expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('alert');
      // The form is usable again.
      await send.waitFor();
      expect(await send.isEnabled()).toBe(true);

      await page.goto(`${webUrl}/signin`);
      await page.getByLabel('Email').fill('someone@test.example.com');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      expect(await alertText(page, /reach the server/)).toBe(message);

      // The account page offers to try again rather than pretending the visitor is signed out.
      await page.goto(`${webUrl}/account`);
      expect(await alertText(page, /reach the server/)).toBe(message);
      await page.getByRole('button', { name: 'Try again' }).waitFor();
      expect(page.url()).toBe(`${webUrl}/account`);
    }),
    60_000,
  );

  it(
    'resets a forgotten password from the sign-in page, signing out every other device',
    browserTest('password-reset', async (pages) => {
      const account = await createAccount(system!.apiUrl, 'web-reset', PASSWORD);
      const newPassword = 'a freshly reset passphrase 7';
      const page = await pages.open();

      await page.goto(`${webUrl}/signin`);
      await page.getByLabel('Email').fill(account.email);
      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      await page.waitForURL(/\/forgot\?email=/);
      expect(await page.getByLabel('Email').inputValue()).toBe(account.email);
      await page.getByRole('button', { name: 'Send reset code' }).click();
      await page.waitForURL(/\/reset\?email=/);

      // The account's first mail was its signup code; the second is the reset code.
      await page.getByLabel('Reset code').fill(await waitForCode(account.email, 2, MAIL_WAIT_MS));
      await page.getByLabel('New password', { exact: true }).fill(newPassword);
      await page.getByRole('button', { name: 'Set new password' }).click();
      await page.waitForURL(`${webUrl}/account`);
      await page.getByRole('heading', { name: 'Active sessions' }).waitFor();
      await expectSessionCount(page, 1);

      // The session the account had before the reset is gone; the new password signs in.
      expect((await account.client.get('/me')).status).toBe(401);
      await signIn(await pages.open(), account.email, newPassword);
    }),
    120_000,
  );

  it(
    'changes the password on the security page: a wrong current password and a common new one are refused, the other device is signed out',
    browserTest('password-change', async (pages) => {
      const account = await createAccount(system!.apiUrl, 'web-change', PASSWORD);
      const newPassword = 'another calm passphrase 19';
      const page = await pages.open();
      const other = await pages.open();
      await signIn(page, account.email);
      await signIn(other, account.email);

      await openSecurity(page);
      const section = page.getByRole('region', { name: 'Change password' });
      const current = section.getByLabel('Current password', { exact: true });
      const next = section.getByLabel('New password', { exact: true });
      const submit = section.getByRole('button', { name: 'Change password' });

      // A wrong current password: said so, tied to its field, which is cleared.
      await current.fill('not my password at all');
      await next.fill(newPassword);
      await submit.click();
      expect(await alertText(page, /current password/)).toBe('Your current password is wrong.');
      expect(await current.getAttribute('aria-invalid')).toBe('true');
      expect(await current.inputValue()).toBe('');

      // A new password the policy refuses: its reason is shown at the new password.
      await current.fill(PASSWORD);
      await next.fill('password1');
      await submit.click();
      const reason = 'This password is too common; choose one that is harder to guess.';
      expect(await alertText(page, /too common/)).toBe(reason);
      expect(await textOf(section.locator('#new-password-error'))).toBe(reason);

      // Nothing changed so far: the other devices (the second browser and the API client that made the account) are still signed in.
      await other.reload();
      await expectSessionCount(other, 3);

      await current.fill(PASSWORD);
      await next.fill(newPassword);
      await submit.click();
      expect(await textOf(section.getByRole('status').filter({ hasText: 'password was changed' }))).toBe(
        'Your password was changed. Every other device was signed out; this one stays signed in.',
      );
      expect(await current.inputValue()).toBe('');
      expect(await next.inputValue()).toBe('');

      // This browser stays signed in, alone; the other one is out; the new password signs in, the old one does not.
      await page.goto(`${webUrl}/account`);
      await expectSessionCount(page, 1);
      await expectSignedOut(other);
      expect((await account.client.get('/me')).status).toBe(401);
      await mailWithSubject(account.email, 'Your CFD Broker password was changed', 1, MAIL_WAIT_MS, 300);
      await other.getByLabel('Email').fill(account.email);
      await other.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await other.getByRole('button', { name: 'Sign in', exact: true }).click();
      expect(await alertText(other, /wrong/)).toBe('Email or password is wrong.');
      await signIn(other, account.email, newPassword);
    }),
    120_000,
  );

  it(
    'changes the email with the code mailed to the new address, and the old address undoes it from its link',
    browserTest('email-change-undo', async (pages) => {
      const account = await createAccount(system!.apiUrl, 'web-email-old', PASSWORD);
      const newEmail = uniqueEmail('web-email-new');
      const page = await pages.open();
      const other = await pages.open();
      await signIn(page, account.email);
      await signIn(other, account.email);

      await openSecurity(page);
      expect(await textOf(page.getByTestId('current-email'))).toBe(account.email);
      const section = page.getByRole('region', { name: 'Change email' });

      // A wrong password is refused before any code is sent.
      await section.getByLabel('New email').fill(newEmail);
      await section.getByLabel('Your password').fill('not my password at all');
      await section.getByRole('button', { name: 'Send code' }).click();
      expect(await alertText(page, /current password/)).toBe('Your current password is wrong.');

      await section.getByLabel('Your password').fill(PASSWORD);
      await section.getByRole('button', { name: 'Send code' }).click();
      const codeField = section.getByLabel('Confirmation code');
      await codeField.waitFor();
      expect(await textOf(section.locator('.section-intro'))).toContain(newEmail);
      await page.waitForFunction(() => document.activeElement?.id === 'email-code');

      const code = await codeFor(newEmail);
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      await codeField.fill(wrong);
      await section.getByRole('button', { name: 'Confirm new email' }).click();
      expect(await alertText(page, /That code is wrong/)).toMatch(/^That code is wrong\. \d+ attempts? left\.$/);
      expect(await codeField.inputValue()).toBe('');

      await codeField.fill(code);
      await section.getByRole('button', { name: 'Confirm new email' }).click();
      const done = await textOf(section.getByRole('status').filter({ hasText: 'Your account now uses' }));
      expect(done).toContain(newEmail);
      expect(done).toContain('undo');
      expect(await textOf(page.getByTestId('current-email'))).toBe(newEmail);

      // This browser's session now carries the new address; the other device is signed out.
      await page.goto(`${webUrl}/account`);
      expect(await textOf(page.getByTestId('profile-email'))).toBe(newEmail);
      await expectSignedOut(other);

      // The old address got the notice with the undo link, to this web app.
      const undoLink = linkIn(await mailWithSubject(account.email, 'Your CFD Broker email address was changed', 1, MAIL_WAIT_MS, 300), '/email/undo');
      expect(undoLink.startsWith(`${webUrl}/email/undo?token=`)).toBe(true);

      // Opening the link does nothing by itself (mail scanners fetch links): the account keeps the new address.
      // (networkidle: a request the page would send by itself has been answered before we look.)
      const mailbox = await pages.open();
      await mailbox.goto(undoLink, { waitUntil: 'networkidle' });
      const undo = mailbox.getByRole('button', { name: 'Undo the change' });
      await undo.waitFor();
      await page.reload();
      expect(await textOf(page.getByTestId('profile-email'))).toBe(newEmail);

      await undo.click();
      await mailbox.getByRole('heading', { name: 'Email change undone' }).waitFor();
      expect(await textOf(mailbox.getByRole('status'))).toContain('Every session was signed out');
      await mailbox.waitForFunction(() => document.activeElement?.id === 'page-title');

      // Every session ended; the old address signs in again, the new one does not.
      await expectSignedOut(page);
      await page.getByLabel('Email').fill(newEmail);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      expect(await alertText(page, /wrong/)).toBe('Email or password is wrong.');
      await signIn(page, account.email);
      expect(await textOf(page.getByTestId('profile-email'))).toBe(account.email);

      // The link works once.
      const again = await pages.open();
      await again.goto(undoLink);
      await again.getByRole('button', { name: 'Undo the change' }).click();
      expect(await alertText(again, /not valid/)).toBe('This link is not valid or has expired. It may have been used already.');
      await again.getByRole('link', { name: 'Go to sign in' }).waitFor();
      expect(await again.getByRole('button', { name: 'Undo the change' }).count()).toBe(0);
    }),
    150_000,
  );

  it(
    'closes the account after the password and an explicit confirmation, and the mailed link restores it',
    browserTest('close-restore', async (pages) => {
      const account = await createAccount(system!.apiUrl, 'web-close', PASSWORD);
      const page = await pages.open();
      const other = await pages.open();
      await signIn(page, account.email);
      await signIn(other, account.email);

      await openSecurity(page);
      const section = page.getByRole('region', { name: 'Close account' });
      const password = section.getByLabel('Your password');
      const confirm = section.getByLabel(/I understand/);
      const close = section.getByRole('button', { name: 'Close account' });

      // Neither the password nor the confirmation: nothing is sent, both are asked for.
      await close.click();
      expect(await alertText(page, /Tick the box/)).toBe('Enter your password. Tick the box to confirm that you want to close your account.');
      expect(await confirm.getAttribute('aria-invalid')).toBe('true');

      // The password without the confirmation is not enough either.
      await password.fill(PASSWORD);
      await close.click();
      expect(await alertText(page, /Tick the box/)).toBe('Tick the box to confirm that you want to close your account.');

      // A wrong password is refused, and the account stays open.
      await password.fill('not my password at all');
      await confirm.check();
      await close.click();
      expect(await alertText(page, /current password/)).toBe('Your current password is wrong.');
      await other.reload();
      await other.getByRole('heading', { name: 'Active sessions' }).waitFor();

      await password.fill(PASSWORD);
      await close.click();
      await page.getByRole('heading', { name: 'Your account is closed' }).waitFor();
      await page.waitForFunction(() => document.activeElement?.id === 'page-title');
      expect(await textOf(page.getByRole('status'))).toMatch(/^Your account is closed and every session was signed out\. It will be erased in \d+ (?:day|hour|minute|second)s?; the link we emailed you restores it until then\.$/);

      // Every session is gone, and the account cannot sign in.
      await expectSignedOut(page);
      await expectSignedOut(other);
      expect((await account.client.get('/me')).status).toBe(401);
      const refusedSignIn = async () => {
        await page.goto(`${webUrl}/signin`);
        await page.getByLabel('Email').fill(account.email);
        await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        expect(await alertText(page, /wrong/)).toBe('Email or password is wrong.');
      };
      await refusedSignIn();

      // The closure mail's link, to this web app; opening it restores nothing by itself (mail scanners fetch links).
      const restoreLink = linkIn(await mailWithSubject(account.email, 'Your CFD Broker account was closed', 1, MAIL_WAIT_MS, 300), '/account/restore');
      expect(restoreLink.startsWith(`${webUrl}/account/restore?token=`)).toBe(true);
      const mailbox = await pages.open();
      await mailbox.goto(restoreLink, { waitUntil: 'networkidle' });
      const restore = mailbox.getByRole('button', { name: 'Restore my account' });
      await restore.waitFor();
      await refusedSignIn();

      await restore.click();
      await mailbox.getByRole('heading', { name: 'Account restored' }).waitFor();
      expect(await textOf(mailbox.getByRole('status'))).toBe('Your account is open again. Sign in with your email and password.');
      await mailbox.getByRole('link', { name: 'Go to sign in' }).click();
      await mailbox.waitForURL(`${webUrl}/signin`);

      // The account signs in again, as it was.
      await signIn(page, account.email);
      expect(await textOf(page.getByTestId('profile-email'))).toBe(account.email);
      expect(await textOf(page.getByTestId('profile-name'))).toBe('Test web-close');

      // The link works once.
      const again = await pages.open();
      await again.goto(restoreLink);
      await again.getByRole('button', { name: 'Restore my account' }).click();
      expect(await alertText(again, /not valid/)).toBe('This link is not valid or has expired. It may have been used already.');
      await again.getByRole('link', { name: 'Go to sign in' }).waitFor();
    }),
    150_000,
  );
  it(
    'turns on two-step sign-in (QR, confirm, recovery codes), signs in with the app, gets in with a recovery code after losing the phone, and re-authenticates for a sensitive change',
    browserTest('two-step', async (pages) => {
      const account = await createAccount(apiUrl, 'web-mfa', PASSWORD);
      const page = await pages.open();
      await signIn(page, account.email);
      await openSecurity(page);

      // Set up: QR code and key, then the app's code turns it on; the recovery codes are shown once.
      const section = page.getByTestId('two-step');
      await section.getByRole('button', { name: 'Set up authenticator app' }).click();
      await page.getByTestId('totp-qr').waitFor();
      expect(await page.getByTestId('totp-qr').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
      const secret = await textOf(page.getByTestId('totp-secret'));
      const authenticator = new Authenticator(secret);
      await page.getByLabel('Code from the app').fill(await authenticator.code());
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByTestId('recovery-codes').waitFor();
      const codes = (await page.getByTestId('recovery-codes').locator('li').allTextContents()).map((c) => c.trim());
      expect(codes).toHaveLength(10);
      for (const c of codes) expect(c).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
      await page.getByRole('button', { name: 'I saved them' }).click();
      expect(await textOf(page.getByTestId('two-step-on'))).toBe('On. 10 recovery codes left.');

      // Signing in now asks for the app's code after the password.
      const other = await pages.open();
      await other.goto(`${webUrl}/signin`);
      await other.getByLabel('Email').fill(account.email);
      await other.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await other.getByRole('button', { name: 'Sign in', exact: true }).click();
      await other.waitForURL(`${webUrl}/signin/mfa`);
      // The partial session shows nothing of the account: /account sends it back to the second step.
      await other.goto(`${webUrl}/account`);
      await other.waitForURL(`${webUrl}/signin/mfa`);
      await other.getByLabel('Authentication code').fill([-1, 0, 1].some((d) => totpCode(secret, d) === '000000') ? '000001' : '000000');
      await other.getByRole('button', { name: 'Continue' }).click();
      expect(await alertText(other, /wrong/)).toMatch(/That code is wrong/);
      await other.getByLabel('Authentication code').fill(await authenticator.code());
      await other.getByRole('button', { name: 'Continue' }).click();
      await other.waitForURL(`${webUrl}/account`);
      expect(await textOf(other.getByTestId('profile-email'))).toBe(account.email);

      // The phone is lost: a recovery code gets in, once.
      const lost = await pages.open();
      await lost.goto(`${webUrl}/signin`);
      await lost.getByLabel('Email').fill(account.email);
      await lost.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await lost.getByRole('button', { name: 'Sign in', exact: true }).click();
      await lost.waitForURL(`${webUrl}/signin/mfa`);
      await lost.getByRole('button', { name: 'Lost your phone? Use a recovery code' }).click();
      await lost.getByLabel('Recovery code').fill(codes[0]!);
      await lost.getByRole('button', { name: 'Continue' }).click();
      await lost.waitForURL(`${webUrl}/account`);
      await openSecurity(lost);
      expect(await textOf(lost.getByTestId('two-step-on'))).toBe('On. 9 recovery codes left.');

      // Ten minutes later (the session's authentication time moved back), a sensitive change asks to confirm first.
      const redis = new Redis(system!.config.REDIS_URL);
      try {
        const token = (await lost.context().cookies()).find((c) => c.name === 'auth_token')!.value;
        const { sid } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string };
        await redis.hset(`sess:${sid}`, 'authTime', String(Date.now() - 11 * 60_000));
      } finally {
        redis.disconnect();
      }
      await lost.getByRole('button', { name: 'Make new recovery codes' }).click();
      await lost.getByTestId('reauth-prompt').waitFor();
      expect(await alertText(lost, /confirm it is you/i)).toBe('For your security, confirm it is you before this change.');
      const prompt = lost.getByTestId('reauth-prompt');
      await prompt.getByLabel('Your password', { exact: true }).fill(PASSWORD);
      await prompt.getByLabel('Authentication code').fill(await authenticator.code());
      await lost.getByRole('button', { name: 'Confirm' }).click();
      await textOf(lost.getByRole('status').filter({ hasText: 'Confirmed' }));
      await lost.getByRole('button', { name: 'Make new recovery codes' }).click();
      await lost.getByTestId('recovery-codes').waitFor();
      expect(await lost.getByTestId('recovery-codes').locator('li').count()).toBe(10);
    }),
    180_000,
  );

  it(
    'adds a passkey on the security page (a virtual authenticator of Chromium) and signs in with it alone; after the password it is the second step',
    browserTest('passkeys', async (pages) => {
      const account = await createAccount(apiUrl, 'web-passkey', PASSWORD);
      const page = await pages.open({ api: apiLocal });
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await signIn(page, account.email, PASSWORD, webLocal);
      await openSecurity(page, webLocal);

      const section = page.getByTestId('passkeys');
      await section.getByLabel('Name (optional)').fill('Test laptop');
      await section.getByRole('button', { name: 'Add a passkey' }).click();
      expect(await textOf(section.getByRole('status').filter({ hasText: 'added' }))).toMatch(/Passkey "Test laptop" added/);
      expect(await textOf(section.getByTestId('passkey-label'))).toBe('Test laptop');
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials.map((c) => c.isResidentCredential)).toEqual([true]);

      // No cookie at all, no email typed: the passkey alone signs in.
      await page.context().clearCookies();
      await page.goto(`${webLocal}/signin`);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.waitForURL(`${webLocal}/account`);
      expect(await textOf(page.getByTestId('profile-email'))).toBe(account.email);

      // With the password, the passkey is asked for as the second step.
      await page.context().clearCookies();
      await page.goto(`${webLocal}/signin`);
      await page.getByLabel('Email').fill(account.email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(/\/signin\/mfa\?methods=passkey$/);
      await page.getByRole('button', { name: 'Use your passkey' }).click();
      await page.waitForURL(`${webLocal}/account`);
      expect(await textOf(page.getByTestId('profile-email'))).toBe(account.email);
      expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]!.signCount).toBeGreaterThan(0);
    }),
    180_000,
  );
});
