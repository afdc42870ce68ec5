'use client';

import { useRouter } from 'next/navigation';
import { useEffect } from 'react';
import { Loading } from '@/components/Loading';
import { api } from '@/lib/api';

/** `/`: the account page when signed in, the sign-in page otherwise. */
export default function Home() {
  const router = useRouter();
  useEffect(() => {
    let cancelled = false;
    api
      .me()
      .then(() => !cancelled && router.replace('/account'))
      .catch(() => !cancelled && router.replace('/signin'));
    return () => {
      cancelled = true;
    };
  }, [router]);

  return <Loading />;
}
