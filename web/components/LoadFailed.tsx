'use client';

import { FormAlert } from './FormAlert';
import { Button } from './Button';
import type { ApiError } from '@/lib/api';

/** A signed-in page whose first load failed (not a lost session): the reason and "Try again". */
export function LoadFailed({ title, error, onRetry }: { title: string; error: ApiError; onRetry: () => void }) {
  return (
    <section className="card auth-card" aria-labelledby="page-title">
      <h1 id="page-title">{title}</h1>
      <FormAlert alert={{ message: error.message, key: 1 }} />
      <Button busy={false} busyLabel="" className="btn-block" onClick={onRetry}>
        Try again
      </Button>
    </section>
  );
}
