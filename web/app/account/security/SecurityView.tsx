'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';
import { AuthCard } from '@/components/AuthCard';
import { StatusMessage } from '@/components/FormAlert';
import { LoadFailed } from '@/components/LoadFailed';
import { Loading } from '@/components/Loading';
import { api, asApiError, type ApiError, type Me } from '@/lib/api';
import { ChangeEmailForm } from './ChangeEmailForm';
import { CloseAccountForm } from './CloseAccountForm';
import { ChangePasswordForm } from './ChangePasswordForm';
import { ReauthContext, ReauthPrompt } from './Reauth';
import { PasskeysSection } from './PasskeysSection';
import { TwoStepSection } from './TwoStepSection';

type Load =
  | { state: 'loading' }
  | { state: 'ready'; me: Me }
  | { state: 'failed'; error: ApiError }
  /** After `DELETE /me`: the answer's message; the session is gone. */
  | { state: 'closed'; message: string };

/** `/account/security`: change the password, change the email address, close the account. Sessions stay on `/account`. */
export function SecurityView() {
  const router = useRouter();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [reauth, setReauth] = useState<'none' | 'asked' | 'done'>('none');
  const [mfaOn, setMfaOn] = useState(false);
  const requireReauth = useCallback(() => setReauth('asked'), []);

  const signedOut = useCallback(() => router.replace('/signin?reason=expired'), [router]);

  const refresh = useCallback(async () => {
    try {
      setLoad({ state: 'ready', me: await api.me() });
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'UNAUTHENTICATED') return signedOut();
      if (e.code === 'MFA_REQUIRED') return router.replace('/signin/mfa');
      setLoad({ state: 'failed', error: e });
    }
  }, [signedOut, router]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // When the account is shown, and again when it is closed, focus goes to the new title.
  const { state } = load;
  useEffect(() => {
    if (state === 'ready' || state === 'closed') headingRef.current?.focus();
  }, [state]);

  if (load.state === 'loading') return <Loading label="Loading your account…" />;

  if (load.state === 'failed') {
    return (
      <LoadFailed
        title="Account security"
        error={load.error}
        onRetry={() => {
          setLoad({ state: 'loading' });
          void refresh();
        }}
      />
    );
  }

  if (load.state === 'closed') {
    return (
      <AuthCard title="Your account is closed" headingRef={headingRef}>
        <StatusMessage message={load.message} />
        <p>
          <Link href="/signin" className="btn btn-primary btn-block">
            Go to sign in
          </Link>
        </p>
      </AuthCard>
    );
  }

  const { me } = load;

  return (
    <div className="account">
      <div className="account-header">
        <div>
          <p className="breadcrumb">
            <Link href="/account">&larr; Your account</Link>
          </p>
          <h1 id="page-title" ref={headingRef} tabIndex={-1}>
            Account security
          </h1>
          <p className="muted">
            Signed in as <span data-testid="current-email">{me.email}</span>
          </p>
        </div>
      </div>

      {reauth === 'asked' ? <ReauthPrompt mfaOn={mfaOn} onSignedOut={signedOut} onDone={() => setReauth('done')} /> : null}
      {reauth === 'done' ? <StatusMessage message="Confirmed. Make the change again: you have 10 minutes." /> : null}
      <ReauthContext.Provider value={requireReauth}>
      <TwoStepSection onSignedOut={signedOut} onStatus={setMfaOn} />
      <PasskeysSection onSignedOut={signedOut} />
      <ChangePasswordForm onSignedOut={signedOut} />
      <ChangeEmailForm
        currentEmail={me.email}
        onSignedOut={signedOut}
        onChanged={(email) => setLoad((l) => (l.state === 'ready' ? { state: 'ready', me: { ...l.me, email } } : l))}
      />
      <CloseAccountForm onSignedOut={signedOut} onClosed={(message) => setLoad({ state: 'closed', message })} />
      </ReauthContext.Provider>
    </div>
  );
}
