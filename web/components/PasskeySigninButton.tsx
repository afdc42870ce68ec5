'use client';

import { useRouter } from 'next/navigation';
import { signInWithPasskey } from '@/lib/passkeys';

/**
 * Signs in with a passkey (alone, or as the second step of this browser's partial session), then
 * goes to `/account`. The form around it owns the busy state and the error message.
 */
export function PasskeySigninButton({ label, primary, disabled, testId, onStart, onFailed }: {
  label: string;
  primary?: boolean;
  disabled: boolean;
  testId: string;
  onStart: () => void;
  onFailed: (err: unknown) => void;
}) {
  const router = useRouter();
  async function start() {
    onStart();
    try {
      await signInWithPasskey();
      router.replace('/account');
    } catch (err) {
      onFailed(err);
    }
  }
  return (
    <p>
      <button type="button" className={`btn ${primary ? 'btn-primary' : 'btn-secondary'} btn-block`} onClick={() => void start()} disabled={disabled} data-testid={testId}>
        {label}
      </button>
    </p>
  );
}
