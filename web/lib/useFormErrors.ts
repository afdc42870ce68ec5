'use client';

import { useCallback, useRef, useState, type ReactNode } from 'react';
import type { AlertState } from '@/components/FormAlert';
import { asApiError } from './api';
import { useCountdown } from './useCountdown';

export type FieldErrors = Partial<Record<string, string>>;

/**
 * Error state of a form: one alert (announced and focused) plus per-field messages.
 * `fail` takes whatever a request threw; `invalid` takes problems found before sending.
 * `retryIn` counts down the seconds a RATE_LIMITED answer asked to wait.
 */
export function useFormErrors() {
  const [alert, setAlert] = useState<AlertState | null>(null);
  const [fields, setFields] = useState<FieldErrors>({});
  const counter = useRef(0);
  // After RATE_LIMITED the submit button waits out the server's Retry-After.
  const { secondsLeft: retryIn, start: startRetry } = useCountdown(0);

  const clear = useCallback(() => {
    setAlert(null);
    setFields({});
  }, []);

  /**
   * `field` ties the message to that input too (a wrong current password); `message` replaces the
   * generic one where the page knows better (EMAIL_TAKEN while changing an address).
   */
  const fail = useCallback((err: unknown, opts: { action?: ReactNode; field?: string; message?: string } = {}) => {
    const e = asApiError(err);
    const message = opts.message ?? e.message;
    const perField: FieldErrors = {};
    for (const f of e.fieldErrors) {
      if (f.field && !perField[f.field]) perField[f.field] = f.message;
    }
    if (opts.field && !perField[opts.field]) perField[opts.field] = message;
    counter.current += 1;
    setFields(perField);
    setAlert({ message, key: counter.current, action: opts.action });
    if (e.code === 'RATE_LIMITED' && e.retryAfterSeconds) startRetry(e.retryAfterSeconds);
    return e;
  }, [startRetry]);

  /** A problem found before sending anything: same presentation as the server's VALIDATION_FAILED. */
  const invalid = useCallback((problems: FieldErrors) => {
    counter.current += 1;
    setFields(problems);
    setAlert({ message: Object.values(problems).filter(Boolean).join(' '), key: counter.current });
  }, []);

  return { alert, fields, clear, fail, invalid, retryIn };
}
