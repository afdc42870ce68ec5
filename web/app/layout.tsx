import type { Metadata, Viewport } from 'next';
import { connection } from 'next/server';
import Link from 'next/link';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'CFD Broker', template: '%s · CFD Broker' },
  description: 'Sign up, verify your email and manage your sessions.',
  robots: { index: false, follow: false },
};

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  themeColor: '#0f2a4a',
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Render per request: the CSP nonce (proxy.ts) is new for every response, so no page may be prerendered.
  await connection();
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="site-header">
          <div className="site-header-inner">
            <Link href="/" className="brand" aria-label="CFD Broker home">
              <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
                <rect width="32" height="32" rx="8" fill="currentColor" />
                <path d="M7 21l6-7 5 4 7-9" fill="none" stroke="#fff" strokeWidth="2.6" strokeLinecap="round" strokeLinejoin="round" />
              </svg>
              <span>CFD Broker</span>
            </Link>
          </div>
        </header>
        <main id="main" className="site-main">
          {children}
        </main>
        <footer className="site-footer">
          <p>Your session is kept in a secure cookie only. Close it any time from your account page.</p>
        </footer>
      </body>
    </html>
  );
}
