'use client';

import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { AuthCard } from '@/components/AuthCard';
import { CodeField } from '@/components/CodeField';
import { Field } from '@/components/Field';
import { FormAlert, StatusMessage } from '@/components/FormAlert';
import { NewPasswordField } from '@/components/PasswordField';
import { Button, SubmitButton } from '@/components/Button';
import { api, isApiError } from '@/lib/api';
import { useCountdown } from '@/lib/useCountdown';
import { useFormErrors } from '@/lib/useFormErrors';
import { codeProblem, nameProblem, newPasswordProblem, problems } from '@/lib/validate';

/** The API sends at most one code a minute per address; the button waits as long. */
export const RESEND_COOLDOWN_SECONDS = 60;

export function VerifyForm() {
  const email = (useSearchParams().get('email') ?? '').trim();
  if (!email) {
    return (
      <AuthCard title="Verify your email" intro={<p>This link is missing the email address to verify.</p>}>
        <p>
          <Link href="/signup" className="btn btn-primary btn-block">
            Start again
          </Link>
        </p>
      </AuthCard>
    );
  }
  return <VerifyEmail email={email} />;
}

function VerifyEmail({ email }: { email: string }) {
  const router = useRouter();
  const [otp, setOtp] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();

  // A code was just sent by the signup step, so the first resend waits a full cooldown too.
  const cooldown = useCountdown(RESEND_COOLDOWN_SECONDS);
  const [resending, setResending] = useState(false);
  const [resent, setResent] = useState<string | null>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    const found = problems({ otp: codeProblem(otp), name: nameProblem(name), password: newPasswordProblem(password) });
    if (found) return invalid(found);

    clear();
    setResent(null);
    setBusy(true);
    try {
      await api.verify({ email, otp: otp.trim(), name: name.trim(), password });
      router.replace('/account');
    } catch (err) {
      const e = fail(err, {
        action: isApiError(err) && err.code === 'EMAIL_TAKEN' ? <Link href="/signin">Go to sign in</Link> : undefined,
      });
      if (e.code === 'INVALID_CODE' || e.code === 'TOO_MANY_ATTEMPTS' || e.code === 'CODE_EXPIRED') setOtp('');
      setBusy(false);
    }
  }

  async function onResend() {
    if (resending || cooldown.secondsLeft > 0) return;
    clear();
    setResent(null);
    setResending(true);
    try {
      const { message } = await api.resend(email);
      setResent(message || 'We sent you a new code.');
      cooldown.start(RESEND_COOLDOWN_SECONDS);
    } catch (err) {
      const e = fail(err);
      if (e.code === 'RATE_LIMITED' && e.retryAfterSeconds) cooldown.start(e.retryAfterSeconds);
    } finally {
      setResending(false);
    }
  }

  const waiting = cooldown.secondsLeft > 0;

  return (
    <AuthCard
      title="Check your email"
      intro={
        <>
          <p>
            We sent a 6&#8209;digit code to <strong className="email">{email}</strong>. Enter it below, then choose your name and
            password.
          </p>
          <p className="intro-aside">
            Wrong address? <Link href="/signup">Use a different email</Link>
          </p>
        </>
      }
    >
      <form onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormAlert alert={alert} />
        <StatusMessage message={resent} />
        <CodeField
          id="otp"
          name="otp"
          label="Verification code"
          value={otp}
          onChange={setOtp}
          error={fields.otp}
          hint="The 6 digits from the email we just sent."
        />
        <Field
          id="name"
          name="name"
          label="Full name"
          type="text"
          autoComplete="name"
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={fields.name}
        />
        <NewPasswordField id="password" label="Password" value={password} onChange={setPassword} error={fields.password} />
        <SubmitButton busy={busy} busyLabel="Creating account…" className="btn-block" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Create account'}
        </SubmitButton>
      </form>

      <div className="resend">
        <p id="resend-help">Didn&rsquo;t get the code? Check your spam folder, or ask for a new one.</p>
        <Button
          variant="secondary"
          busy={resending}
          busyLabel="Sending…"
          disabled={waiting}
          aria-describedby="resend-help"
          onClick={onResend}
          className="btn-block"
        >
          {waiting ? (
            <span>
              Resend code in <span className="countdown">{cooldown.secondsLeft}</span>&nbsp;s
            </span>
          ) : (
            'Resend code'
          )}
        </Button>
      </div>
    </AuthCard>
  );
}
