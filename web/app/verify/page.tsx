import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/components/Loading';
import { VerifyForm } from './VerifyForm';

export const metadata: Metadata = { title: 'Verify your email' };

export default function VerifyPage() {
  // The form reads ?email= from the URL, which is only known in the browser.
  return (
    <Suspense fallback={<Loading />}>
      <VerifyForm />
    </Suspense>
  );
}
