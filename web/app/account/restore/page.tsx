import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/components/Loading';
import { RestoreAccount } from './RestoreAccount';

export const metadata: Metadata = { title: 'Restore your account' };

export default function RestoreAccountPage() {
  // The token is in ?token=, which is only known in the browser.
  return (
    <Suspense fallback={<Loading />}>
      <RestoreAccount />
    </Suspense>
  );
}
