'use client';

import Link from 'next/link';
import { useSearchParams } from 'next/navigation';
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { AuthCard } from './AuthCard';
import { FormAlert, StatusMessage } from './FormAlert';
import { SubmitButton } from './Button';
import { asApiError, humanMessage } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';

/**
 * The page behind a link mailed with a one-time `?token=`. Opening the link does nothing by itself
 * (mail scanners fetch links): the token is sent only when the person presses the button. The
 * answer's message is shown on success; a spent or unknown token says so and offers sign-in.
 */
export function LinkAction({
  title,
  intro,
  confirmLabel,
  busyLabel,
  doneTitle,
  send,
}: {
  title: string;
  intro: ReactNode;
  confirmLabel: string;
  busyLabel: string;
  doneTitle: string;
  send: (token: string) => Promise<{ message: string }>;
}) {
  const token = (useSearchParams().get('token') ?? '').trim();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [spent, setSpent] = useState(false);
  const { alert, clear, fail, retryIn } = useFormErrors();
  const headingRef = useRef<HTMLHeadingElement>(null);

  // The button that was pressed is gone with the form: focus the new title so reading starts there.
  useEffect(() => {
    if (done) headingRef.current?.focus();
  }, [done]);

  const signIn = (
    <Link href="/signin" className="btn btn-primary btn-block">
      Go to sign in
    </Link>
  );

  if (!token) {
    return (
      <AuthCard title={title} intro={<p>This link is incomplete. Open it again from the email, or copy the whole address into the browser.</p>}>
        <p>{signIn}</p>
      </AuthCard>
    );
  }

  if (done) {
    return (
      <AuthCard title={doneTitle} headingRef={headingRef}>
        <StatusMessage message={done} />
        <p>{signIn}</p>
      </AuthCard>
    );
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || spent || retryIn > 0) return;
    clear();
    setBusy(true);
    try {
      setDone((await send(token)).message);
    } catch (err) {
      const e = asApiError(err);
      // Pressing again cannot help a link that is spent, unknown, expired or mangled (a token the schema refuses).
      const broken = e.code === 'INVALID_TOKEN' || e.code === 'VALIDATION_FAILED';
      fail(e, broken ? { message: humanMessage('INVALID_TOKEN') } : {});
      setSpent(broken);
      setBusy(false);
    }
  }

  return (
    <AuthCard title={title} intro={intro}>
      <form onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormAlert alert={alert} />
        {spent ? (
          <p>{signIn}</p>
        ) : (
          <SubmitButton busy={busy} busyLabel={busyLabel} className="btn-block" disabled={retryIn > 0}>
            {retryIn > 0 ? `Try again in ${retryIn} s` : confirmLabel}
          </SubmitButton>
        )}
      </form>
    </AuthCard>
  );
}
