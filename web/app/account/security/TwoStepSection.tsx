'use client';

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Button, SubmitButton } from '@/components/Button';
import { CodeField } from '@/components/CodeField';
import { Field } from '@/components/Field';
import { FormAlert, StatusMessage } from '@/components/FormAlert';
import { CurrentPasswordField } from '@/components/PasswordField';
import { api, asApiError, type ApiError, type MfaStatus, type TotpSetup } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';
import { passwordProblem, problems } from '@/lib/validate';
import { useReauth } from './Reauth';

type View =
  | { view: 'loading' }
  | { view: 'status'; status: MfaStatus }
  | { view: 'setup'; setup: TotpSetup }
  | { view: 'codes'; codes: string[]; status: MfaStatus };

/** The QR image as a data: URL (the page's CSP allows data: images, not inline markup from the API). */
const qrSrc = (svg: string) => `data:image/svg+xml;base64,${btoa(svg)}`;

/**
 * Two-step sign-in with an authenticator app: set it up (QR code and secret), confirm a code, save
 * the recovery codes shown once; when on, make new recovery codes or turn it off.
 */
export function TwoStepSection({ onSignedOut, onStatus }: { onSignedOut: () => void; onStatus: (on: boolean) => void }) {
  const [state, setState] = useState<View>({ view: 'loading' });
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [offCode, setOffCode] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();
  const requireReauth = useReauth();

  const load = useCallback(async () => {
    try {
      const status = await api.mfaStatus();
      onStatus(status.totp);
      setState({ view: 'status', status });
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'UNAUTHENTICATED') return onSignedOut();
      fail(e);
    }
  }, [fail, onSignedOut, onStatus]);

  useEffect(() => {
    void load();
  }, [load]);

  function failed(e: ApiError, field?: string) {
    setBusy(null);
    if (e.code === 'UNAUTHENTICATED') return onSignedOut();
    if (e.code === 'REAUTH_REQUIRED') requireReauth();
    fail(e, field ? { field } : {});
  }

  async function startSetup() {
    clear();
    setDone(null);
    setBusy('setup');
    try {
      setState({ view: 'setup', setup: await api.totpSetup() });
      setCode('');
      setBusy(null);
    } catch (err) {
      failed(asApiError(err));
    }
  }

  async function enable(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    if (!/^[0-9]{6}$/.test(code)) return invalid({ code: 'Enter the 6-digit code your app shows.' });
    clear();
    setBusy('enable');
    try {
      const { recoveryCodes } = await api.totpEnable(code);
      onStatus(true);
      setState({ view: 'codes', codes: recoveryCodes, status: { totp: true, recoveryCodesLeft: recoveryCodes.length } });
      setBusy(null);
    } catch (err) {
      setCode('');
      failed(asApiError(err), 'code');
    }
  }

  async function regenerate() {
    clear();
    setDone(null);
    setBusy('regenerate');
    try {
      const { recoveryCodes } = await api.regenerateRecoveryCodes();
      setState({ view: 'codes', codes: recoveryCodes, status: { totp: true, recoveryCodesLeft: recoveryCodes.length } });
      setBusy(null);
    } catch (err) {
      failed(asApiError(err));
    }
  }

  async function disable(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    const found = problems({ offPassword: passwordProblem(password), offCode: offCode.trim() ? undefined : 'Enter a code from your app, or a recovery code.' });
    if (found) return invalid(found);
    clear();
    setBusy('disable');
    try {
      await api.totpDisable({ password, code: offCode.trim() });
      setPassword('');
      setOffCode('');
      onStatus(false);
      setState({ view: 'status', status: { totp: false, recoveryCodesLeft: 0 } });
      setDone('Two-step sign-in is off. Signing in now asks for your password only.');
      setBusy(null);
    } catch (err) {
      setPassword('');
      setOffCode('');
      const e = asApiError(err);
      failed(e, e.code === 'INVALID_CURRENT_PASSWORD' ? 'offPassword' : e.code === 'INVALID_MFA_CODE' ? 'offCode' : undefined);
    }
  }

  return (
    <section className="card" aria-labelledby="two-step-title" data-testid="two-step">
      <h2 id="two-step-title">Two-step sign-in</h2>
      <FormAlert alert={alert} id="two-step-error" />
      <StatusMessage message={done} />
      {state.view === 'loading' ? <p className="muted">Loading…</p> : null}

      {state.view === 'status' && !state.status.totp ? (
        <>
          <p className="muted section-intro">Off. Turn it on to ask for a code from an authenticator app after your password.</p>
          <Button busy={busy === 'setup'} busyLabel="Preparing…" onClick={() => void startSetup()}>
            Set up authenticator app
          </Button>
        </>
      ) : null}

      {state.view === 'setup' ? (
        <form onSubmit={enable} noValidate aria-busy={busy === 'enable'} className="section-form">
          <p className="muted section-intro">Scan the QR code with your authenticator app, or type the key by hand. Then enter the code it shows.</p>
          <img src={qrSrc(state.setup.qrSvg)} alt="QR code for your authenticator app" width={200} height={200} data-testid="totp-qr" />
          <p>
            Key: <code data-testid="totp-secret">{state.setup.secret}</code>
          </p>
          <CodeField id="totp-code" name="code" label="Code from the app" value={code} onChange={setCode} error={fields.code} />
          <SubmitButton busy={busy === 'enable'} busyLabel="Turning on…" disabled={retryIn > 0}>
            {retryIn > 0 ? `Try again in ${retryIn} s` : 'Turn on'}
          </SubmitButton>
        </form>
      ) : null}

      {state.view === 'codes' ? (
        <>
          <p className="section-intro">
            Two-step sign-in is on. Save these recovery codes somewhere safe: each signs you in once if you lose your phone. They are shown only
            now.
          </p>
          <ul className="recovery-codes" data-testid="recovery-codes">
            {state.codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
          <Button busy={false} busyLabel="" onClick={() => setState({ view: 'status', status: state.status })}>
            I saved them
          </Button>
        </>
      ) : null}

      {state.view === 'status' && state.status.totp ? (
        <>
          <p className="section-intro" data-testid="two-step-on">
            On. {state.status.recoveryCodesLeft} recovery {state.status.recoveryCodesLeft === 1 ? 'code' : 'codes'} left.
          </p>
          <p>
            <Button variant="secondary" busy={busy === 'regenerate'} busyLabel="Making new codes…" onClick={() => void regenerate()}>
              Make new recovery codes
            </Button>
          </p>
          <form onSubmit={disable} noValidate aria-busy={busy === 'disable'} className="section-form">
            <CurrentPasswordField id="two-step-off-password" name="offPassword" label="Your password" value={password} onChange={setPassword} error={fields.offPassword} />
            <Field
              id="two-step-off-code"
              name="offCode"
              label="Code from the app, or a recovery code"
              autoComplete="one-time-code"
              maxLength={16}
              value={offCode}
              onChange={(e) => setOffCode(e.target.value)}
              error={fields.offCode}
            />
            <SubmitButton variant="danger" busy={busy === 'disable'} busyLabel="Turning off…" disabled={retryIn > 0}>
              Turn off two-step sign-in
            </SubmitButton>
          </form>
        </>
      ) : null}
    </section>
  );
}
