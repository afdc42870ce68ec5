'use client';

import { LinkAction } from '@/components/LinkAction';
import { api } from '@/lib/api';

/** `/email/undo?token=…`: the link mailed to the old address after an email change. */
export function UndoEmailChange() {
  return (
    <LinkAction
      title="Undo the email change"
      intro={
        <>
          <p>The email address of your account was changed. If you did not do this, undo it: your account gets back the address this link was sent to.</p>
          <p className="intro-aside">Every device signed in to the account will be signed out. Then reset your password if someone else knows it.</p>
        </>
      }
      confirmLabel="Undo the change"
      busyLabel="Undoing…"
      doneTitle="Email change undone"
      send={api.undoEmailChange}
    />
  );
}
