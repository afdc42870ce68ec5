import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/components/Loading';
import { ResetForm } from './ResetForm';

export const metadata: Metadata = { title: 'Set a new password' };

export default function ResetPage() {
  // The form reads ?email= from the URL, which is only known in the browser.
  return (
    <Suspense fallback={<Loading />}>
      <ResetForm />
    </Suspense>
  );
}
