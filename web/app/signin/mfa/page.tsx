import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/components/Loading';
import { MfaForm } from './MfaForm';

export const metadata: Metadata = { title: 'Two-step sign-in' };

export default function SigninMfaPage() {
  return (
    <Suspense fallback={<Loading />}>
      <MfaForm />
    </Suspense>
  );
}
