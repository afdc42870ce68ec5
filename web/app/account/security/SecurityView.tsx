'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';
import { LoadFailed } from '@/components/LoadFailed';
import { Loading } from '@/components/Loading';
import { api, asApiError, type ApiError, type Me } from '@/lib/api';
import { ChangeEmailForm } from './ChangeEmailForm';
import { ChangePasswordForm } from './ChangePasswordForm';

type Load = { state: 'loading' } | { state: 'ready'; me: Me } | { state: 'failed'; error: ApiError };

/** `/account/security`: change the password, change the email address, close the account. Sessions stay on `/account`. */
export function SecurityView() {
  const router = useRouter();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const headingRef = useRef<HTMLHeadingElement>(null);

  const signedOut = useCallback(() => router.replace('/signin?reason=expired'), [router]);

  const refresh = useCallback(async () => {
    try {
      setLoad({ state: 'ready', me: await api.me() });
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'UNAUTHENTICATED') return signedOut();
      setLoad({ state: 'failed', error: e });
    }
  }, [signedOut]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const ready = load.state === 'ready';
  useEffect(() => {
    if (ready) headingRef.current?.focus();
  }, [ready]);

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

      <ChangePasswordForm onSignedOut={signedOut} />
      <ChangeEmailForm
        currentEmail={me.email}
        onSignedOut={signedOut}
        onChanged={(email) => setLoad((l) => (l.state === 'ready' ? { state: 'ready', me: { ...l.me, email } } : l))}
      />
    </div>
  );
}
