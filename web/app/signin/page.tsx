import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/components/Loading';
import { SigninForm } from './SigninForm';

export const metadata: Metadata = { title: 'Sign in' };

export default function SigninPage() {
  return (
    <Suspense fallback={<Loading />}>
      <SigninForm />
    </Suspense>
  );
}
