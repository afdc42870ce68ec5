'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { AuthCard } from '@/components/AuthCard';
import { EmailField } from '@/components/EmailField';
import { FormAlert } from '@/components/FormAlert';
import { SubmitButton } from '@/components/Button';
import { api } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';
import { emailProblem, problems } from '@/lib/validate';

export function SignupForm() {
  const router = useRouter();
  const [email, setEmail] = useState('');
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
      await api.signup(value);
      // The address travels in the query string, never in storage.
      router.push(`/verify?email=${encodeURIComponent(value)}`);
    } catch (err) {
      fail(err);
      setBusy(false);
    }
  }

  return (
    <AuthCard
      title="Create your account"
      intro={<p>Enter your email address. We&rsquo;ll send you a 6&#8209;digit code to confirm it.</p>}
      footer={
        <p>
          Already have an account? <Link href="/signin">Sign in</Link>
        </p>
      }
    >
      <form onSubmit={onSubmit} noValidate aria-busy={busy} aria-describedby={alert ? 'form-error' : undefined}>
        <FormAlert alert={alert} />
        <EmailField value={email} onChange={setEmail} error={fields.email} />
        <SubmitButton busy={busy} busyLabel="Sending code…" className="btn-block" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Send code'}
        </SubmitButton>
      </form>
    </AuthCard>
  );
}
