/**
 * The web client's Content-Security-Policy, checked on the built app under `next start` (built here if
 * needed by scripts/lib/ensure-web.sh) and in Debian's Chromium: every page answer carries a strict,
 * nonce-based policy with a fresh nonce, every script Next renders carries that nonce, the app still
 * runs under it, and an injected inline handler does not run.
 */
import { chromium, type Browser } from 'playwright-core';
import { startBuiltWeb, type RunningWeb } from '../../testkit/web';
import { buildCsp } from '../lib/csp';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

let web: RunningWeb | undefined;
let webUrl = '';
let browser: Browser | undefined;

beforeAll(async () => {
  web = await startBuiltWeb('web-csp');
  webUrl = web.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 360_000);

afterAll(async () => {
  await browser?.close();
  await web?.process.stop(8_000);
});

const directives = (csp: string) => Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));

describe('the web client sends a strict, nonce-based CSP', () => {
  it.each(['/signin', '/signup', '/verify?email=a%40b.co', '/account/security', '/email/undo?token=t', '/account/restore?token=t', '/nowhere'])('%s: nonce in the header, on every script, new per response', async (page) => {
    const answers = await Promise.all([1, 2].map(() => fetch(webUrl + page, { signal: AbortSignal.timeout(10_000) })));
    const nonces: string[] = [];
    for (const res of answers) {
      const csp = res.headers.get('content-security-policy') ?? '';
      const d = directives(csp);
      const nonce = /'nonce-([^']+)'/.exec(d['script-src']?.join(' ') ?? '')?.[1];
      expect(nonce).toBeDefined();
      expect(d['script-src']).toEqual(expect.arrayContaining([`'nonce-${nonce}'`, "'strict-dynamic'"]));
      expect(d['script-src']).not.toContain("'unsafe-inline'");
      expect(d['script-src']).not.toContain("'unsafe-eval'");
      expect(d['object-src']).toEqual(["'none'"]);
      expect(d['base-uri']).toEqual(["'none'"]);
      expect(d['frame-ancestors']).toEqual(["'none'"]);
      const html = await res.text();
      const scripts = html.match(/<script\b[^>]*>/g) ?? [];
      expect(scripts.length).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
      nonces.push(nonce!);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it('the app runs under the policy in Chromium, and an injected inline handler does not', async () => {
    const context = await browser!.newContext();
    // Init scripts come from the browser, not the page: they are outside the page's CSP.
    await context.addInitScript(() => {
      const w = window as unknown as { __violations: string[] };
      w.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const page = await context.newPage();
    await page.goto(`${webUrl}/signin`, { waitUntil: 'networkidle' });
    // Hydrated: React attached its handlers, so client-side validation answers without a server round trip.
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#form-error .alert').waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)).toEqual([]);

    // What an XSS would inject: an element with an inline handler.
    await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<img src="data:," onload="window.__pwned = 1" onerror="window.__pwned = 1">'));
    await page.waitForFunction(() => (window as unknown as { __violations: string[] }).__violations.length > 0, undefined, { timeout: 10_000 });
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect((await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)).join('\n')).toMatch(/script-src/);
    await context.close();
  });

  it('the policy builder refuses a malformed nonce and never allows inline scripts', () => {
    expect(() => buildCsp({ nonce: "x' 'unsafe-inline", protocol: 'http:', hostname: 'a' })).toThrow();
    const csp = buildCsp({ nonce: 'AAAAAAAAAAAAAAAAAAAAAA==', protocol: 'https:', hostname: 'auth.example.com', apiUrl: 'https://api.example.com/api/v1/auth' });
    const d = directives(csp);
    expect(d['script-src']).toEqual(["'nonce-AAAAAAAAAAAAAAAAAAAAAA=='", "'strict-dynamic'"]);
    expect(d['connect-src']).toEqual(["'self'", 'https://auth.example.com:*', 'https://api.example.com']);
    expect(d['upgrade-insecure-requests']).toEqual([]);
    // A Host header cannot smuggle another directive into the policy.
    expect(directives(buildCsp({ nonce: 'AAAAAAAAAAAAAAAAAAAAAA==', protocol: 'http:', hostname: "x; script-src 'unsafe-inline'" }))['connect-src']).toEqual(["'self'"]);
  });
});
