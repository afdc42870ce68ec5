'use client';

import { useEffect, useRef, type ReactNode } from 'react';

export interface AlertState {
  message: string;
  /** Changes on every new error, so that the same message shown twice still moves focus and is announced again. */
  key: number;
  /** Optional extra content (a link to the next step). */
  action?: ReactNode;
}

/**
 * The error region of a form: always in the page (so assistive technology is listening when a message arrives),
 * announced through role="alert", and focused when an error arrives so keyboard and screen-reader users land on it.
 */
export function FormAlert({ alert, id = 'form-error' }: { alert: AlertState | null; id?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (alert) ref.current?.focus();
  }, [alert]);

  return (
    <div ref={ref} id={id} role="alert" aria-live="assertive" aria-atomic="true" tabIndex={-1} className="alert-region">
      {alert ? (
        <div className="alert alert-error">
          <svg className="alert-icon" viewBox="0 0 20 20" aria-hidden="true" focusable="false">
            <path
              fill="currentColor"
              d="M10 1.5a8.5 8.5 0 1 0 0 17 8.5 8.5 0 0 0 0-17Zm0 4a1 1 0 0 1 1 1v4a1 1 0 1 1-2 0v-4a1 1 0 0 1 1-1Zm0 7.25a1.25 1.25 0 1 1 0 2.5 1.25 1.25 0 0 1 0-2.5Z"
            />
          </svg>
          <div>
            <p className="alert-text">{alert.message}</p>
            {alert.action ? <p className="alert-action">{alert.action}</p> : null}
          </div>
        </div>
      ) : null}
    </div>
  );
}

/** A polite status line for good news ("We sent a new code"). */
export function StatusMessage({ message }: { message: string | null }) {
  return (
    <div role="status" aria-live="polite" className="status-region">
      {message ? <p className="alert alert-success">{message}</p> : null}
    </div>
  );
}
