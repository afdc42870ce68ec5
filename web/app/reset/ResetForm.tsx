'use client';

import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { AuthCard } from '@/components/AuthCard';
import { CodeField } from '@/components/CodeField';
import { FormAlert } from '@/components/FormAlert';
import { NewPasswordField } from '@/components/PasswordField';
import { SubmitButton } from '@/components/Button';
import { afterPasswordStep, api } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';
import { codeProblem, newPasswordProblem, problems } from '@/lib/validate';

export function ResetForm() {
  const email = (useSearchParams().get('email') ?? '').trim();
  const router = useRouter();
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();

  if (!email) {
    return (
      <AuthCard title="Set a new password" intro={<p>This link is missing the email address.</p>}>
        <p>
          <Link href="/forgot" className="btn btn-primary btn-block">
            Start again
          </Link>
        </p>
      </AuthCard>
    );
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    const found = problems({ otp: codeProblem(code), password: newPasswordProblem(password) });
    if (found) return invalid(found);

    clear();
    setBusy(true);
    try {
      const answer = await api.resetPassword({ email, code: code.trim(), password });
      // A reset never skips the second factor: the account with one finishes on the second step.
      router.replace(afterPasswordStep(answer));
    } catch (err) {
      const e = fail(err);
      if (e.code === 'INVALID_CODE' || e.code === 'TOO_MANY_ATTEMPTS' || e.code === 'CODE_EXPIRED') setCode('');
      setBusy(false);
    }
  }

  return (
    <AuthCard
      title="Set a new password"
      intro={
        <>
          <p>
            If <strong className="email">{email}</strong> has an account, we sent it a 6&#8209;digit code. Enter it with your new
            password. Every other device will be signed out.
          </p>
          <p className="intro-aside">
            No code? <Link href={`/forgot?email=${encodeURIComponent(email)}`}>Ask for a new one</Link> (at most one a minute).
          </p>
        </>
      }
    >
      <form onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormAlert alert={alert} />
        <CodeField id="otp" name="otp" label="Reset code" value={code} onChange={setCode} error={fields.otp} />
        <NewPasswordField id="password" label="New password" value={password} onChange={setPassword} error={fields.password} />
        <SubmitButton busy={busy} busyLabel="Saving…" className="btn-block" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Set new password'}
        </SubmitButton>
      </form>
    </AuthCard>
  );
}
