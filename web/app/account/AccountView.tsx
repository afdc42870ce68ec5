'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';
import { FormAlert, StatusMessage } from '@/components/FormAlert';
import { LoadFailed } from '@/components/LoadFailed';
import { Loading } from '@/components/Loading';
import { Button } from '@/components/Button';
import { api, asApiError, type ApiError, type Me, type Session } from '@/lib/api';
import { describeUserAgent, formatDate, formatDateTime, formatRelative, isMobileUserAgent, sortSessions } from '@/lib/format';
import { useFormErrors } from '@/lib/useFormErrors';

type Load = { state: 'loading' } | { state: 'ready'; me: Me; sessions: Session[] } | { state: 'failed'; error: ApiError };
type Busy = null | 'logout' | 'logout-all' | { revoke: string };

export function AccountView() {
  const router = useRouter();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [busy, setBusy] = useState<Busy>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const { alert, clear, fail } = useFormErrors();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const sessionsHeadingRef = useRef<HTMLHeadingElement>(null);

  const signedOut = useCallback((reason: string) => router.replace(`/signin?reason=${reason}`), [router]);

  const refresh = useCallback(async () => {
    try {
      const [me, sessions] = await Promise.all([api.me(), api.sessions()]);
      setLoad({ state: 'ready', me, sessions: sortSessions(sessions) });
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'UNAUTHENTICATED') return signedOut('expired');
      // A partial session (password right, second factor owed) finishes signing in first.
      if (e.code === 'MFA_REQUIRED') return router.replace('/signin/mfa');
      setLoad({ state: 'failed', error: e });
    }
  }, [signedOut, router]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // Once the account is shown, put focus on its heading so screen readers start at the top of the new content.
  const ready = load.state === 'ready';
  useEffect(() => {
    if (ready) headingRef.current?.focus();
  }, [ready]);

  /** A failed action: a lost session goes to sign-in, anything else is shown. */
  function failed(err: unknown) {
    const e = asApiError(err);
    if (e.code === 'UNAUTHENTICATED') return signedOut('expired');
    fail(e);
    setBusy(null);
  }

  async function revoke(session: Session) {
    if (busy) return;
    clear();
    setNotice(null);
    setBusy({ revoke: session.id });
    try {
      await api.revokeSession(session.id);
      gone(session, 'Session revoked. That device is signed out.');
    } catch (err) {
      if (asApiError(err).code === 'SESSION_NOT_FOUND') return gone(session, 'That session had already ended.');
      failed(err);
    }
  }

  function gone(session: Session, message: string) {
    setLoad((l) => (l.state === 'ready' ? { ...l, sessions: l.sessions.filter((s) => s.id !== session.id) } : l));
    setNotice(message);
    setBusy(null);
    // The pressed button is gone with its row: keep keyboard focus in the list's section instead of losing it.
    sessionsHeadingRef.current?.focus();
  }

  async function logout() {
    if (busy) return;
    clear();
    setBusy('logout');
    try {
      await api.logout();
      signedOut('signed-out');
    } catch (err) {
      failed(err);
    }
  }

  async function logoutAll() {
    if (busy) return;
    clear();
    setBusy('logout-all');
    try {
      await api.logoutAll();
      signedOut('signed-out-everywhere');
    } catch (err) {
      failed(err);
    }
  }

  if (load.state === 'loading') return <Loading label="Loading your account…" />;

  if (load.state === 'failed') {
    return (
      <LoadFailed
        title="Your account"
        error={load.error}
        onRetry={() => {
          setLoad({ state: 'loading' });
          void refresh();
        }}
      />
    );
  }

  const { me, sessions } = load;
  const others = sessions.filter((s) => !s.current).length;

  return (
    <div className="account">
      <div className="account-header">
        <div>
          <h1 id="page-title" ref={headingRef} tabIndex={-1}>
            Your account
          </h1>
          <p className="muted">Signed in as {me.email}</p>
        </div>
        <Button variant="secondary" busy={busy === 'logout'} busyLabel="Signing out…" disabled={busy !== null} onClick={logout}>
          Sign out
        </Button>
      </div>

      <FormAlert alert={alert} />
      <StatusMessage message={notice} />

      <section className="card" aria-labelledby="profile-title">
        <h2 id="profile-title">Profile</h2>
        <dl className="profile">
          <div>
            <dt>Name</dt>
            <dd data-testid="profile-name">{me.name}</dd>
          </div>
          <div>
            <dt>Email</dt>
            <dd data-testid="profile-email">{me.email}</dd>
          </div>
          <div>
            <dt>Member since</dt>
            <dd>{formatDate(me.createdAt)}</dd>
          </div>
        </dl>
        <p className="card-link">
          <Link href="/account/security">Password, email and closing your account</Link>
        </p>
      </section>

      <section className="card" aria-labelledby="sessions-title">
        <div className="section-header">
          <div>
            <h2 id="sessions-title" ref={sessionsHeadingRef} tabIndex={-1}>
              Active sessions
            </h2>
            <p className="muted">
              {sessions.length === 1
                ? 'Only this device is signed in.'
                : `${sessions.length} devices are signed in. Revoke any you don’t recognise.`}
            </p>
          </div>
        </div>
        <ul className="sessions" aria-label="Active sessions">
          {sessions.map((s) => {
            const device = describeUserAgent(s.userAgent);
            const revoking = typeof busy === 'object' && busy !== null && busy.revoke === s.id;
            return (
              <li key={s.id} className={`session${s.current ? ' session-current' : ''}`} data-session-id={s.id}>
                <div className="session-icon" aria-hidden="true">
                  <DeviceIcon mobile={isMobileUserAgent(s.userAgent)} />
                </div>
                <div className="session-body">
                  <p className="session-title">
                    <span>{device}</span>
                    {s.current ? <span className="badge">This device</span> : null}
                  </p>
                  <p className="session-meta">
                    <span>
                      Signed in <time dateTime={s.createdAt}>{formatDateTime(s.createdAt)}</time>
                    </span>
                    <span>
                      Last active <time dateTime={s.lastSeenAt}>{formatRelative(s.lastSeenAt)}</time>
                    </span>
                    {s.ip ? <span>IP {s.ip}</span> : null}
                  </p>
                </div>
                {s.current ? null : (
                  <Button
                    variant="secondary"
                    className="btn-small"
                    busy={revoking}
                    busyLabel="Revoking…"
                    disabled={busy !== null}
                    aria-label={`Revoke ${device} session, signed in ${formatDateTime(s.createdAt)}`}
                    onClick={() => revoke(s)}
                  >
                    Revoke
                  </Button>
                )}
              </li>
            );
          })}
        </ul>
        <div className="danger-zone">
          <p className="muted">
            {others > 0
              ? 'Lost a device or signed in somewhere public? End every session at once, this one included.'
              : 'Ends every session of your account, this one included.'}
          </p>
          <Button
            variant="danger"
            busy={busy === 'logout-all'}
            busyLabel="Signing out everywhere…"
            disabled={busy !== null}
            onClick={logoutAll}
          >
            Sign out everywhere
          </Button>
        </div>
      </section>
    </div>
  );
}

function DeviceIcon({ mobile }: { mobile: boolean }) {
  return mobile ? (
    <svg viewBox="0 0 24 24" focusable="false">
      <rect x="6.5" y="2.5" width="11" height="19" rx="2.2" fill="none" stroke="currentColor" strokeWidth="1.8" />
      <path d="M10.5 18.2h3" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
    </svg>
  ) : (
    <svg viewBox="0 0 24 24" focusable="false">
      <rect x="3" y="4" width="18" height="12" rx="2" fill="none" stroke="currentColor" strokeWidth="1.8" />
      <path d="M8 20h8M12 16v4" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
    </svg>
  );
}
