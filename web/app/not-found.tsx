import Link from 'next/link';
import { AuthCard } from '@/components/AuthCard';

export default function NotFound() {
  return (
    <AuthCard title="Page not found" intro={<p>There is nothing at this address.</p>}>
      <p>
        <Link href="/" className="btn btn-primary btn-block">
          Go to the start page
        </Link>
      </p>
    </AuthCard>
  );
}
