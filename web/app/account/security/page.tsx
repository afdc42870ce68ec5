import type { Metadata } from 'next';
import { SecurityView } from './SecurityView';

export const metadata: Metadata = { title: 'Account security' };

export default function SecurityPage() {
  return <SecurityView />;
}
