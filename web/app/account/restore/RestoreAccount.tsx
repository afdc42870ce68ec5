'use client';

import { LinkAction } from '@/components/LinkAction';
import { api } from '@/lib/api';

/** `/account/restore?token=…`: the link mailed when the account was closed. */
export function RestoreAccount() {
  return (
    <LinkAction
      title="Restore your account"
      intro={
        <>
          <p>Your account was closed. Until its grace period ends, you can open it again with everything as it was.</p>
          <p className="intro-aside">Then sign in with your email and password. If you did not close it, reset your password too.</p>
        </>
      }
      confirmLabel="Restore my account"
      busyLabel="Restoring…"
      doneTitle="Account restored"
      send={api.restoreAccount}
    />
  );
}
