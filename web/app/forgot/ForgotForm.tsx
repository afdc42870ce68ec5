'use client';

import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { AuthCard } from '@/components/AuthCard';
import { EmailField } from '@/components/EmailField';
import { FormAlert } from '@/components/FormAlert';
import { SubmitButton } from '@/components/Button';
import { api } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';
import { emailProblem, problems } from '@/lib/validate';

export function ForgotForm() {
  const router = useRouter();
  const [email, setEmail] = useState(useSearchParams().get('email') ?? '');
  const [busy, setBusy] = useState(false);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    const value = email.trim();
    const found = problems({ email: emailProblem(value) });
    if (found) return invalid(found);

    clear();
    setBusy(true);
    try {
      await api.forgotPassword(value);
      // The same next step for every address: the API never says whether it has an account.
      router.push(`/reset?email=${encodeURIComponent(value)}`);
    } catch (err) {
      fail(err);
      setBusy(false);
    }
  }

  return (
    <AuthCard
      title="Reset your password"
      intro={<p>Enter the email address of your account. If it has one, we&rsquo;ll send a 6&#8209;digit code to set a new password.</p>}
      footer={
        <p>
          Remembered it? <Link href="/signin">Sign in</Link>
        </p>
      }
    >
      <form onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormAlert alert={alert} />
        <EmailField value={email} onChange={setEmail} error={fields.email} />
        <SubmitButton busy={busy} busyLabel="Sending code…" className="btn-block" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Send reset code'}
        </SubmitButton>
      </form>
    </AuthCard>
  );
}
