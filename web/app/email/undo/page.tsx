import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/components/Loading';
import { UndoEmailChange } from './UndoEmailChange';

export const metadata: Metadata = { title: 'Undo an email change' };

export default function UndoEmailPage() {
  // The token is in ?token=, which is only known in the browser.
  return (
    <Suspense fallback={<Loading />}>
      <UndoEmailChange />
    </Suspense>
  );
}
