import { upsertSearchAttributes } from '@temporalio/workflow';
import { SignupStatusKey } from '../../temporal-config';

/** The smallest workflow that proves the dev server, a worker and our search attribute work. */
export async function smokeWorkflow(name: string): Promise<string> {
  upsertSearchAttributes([{ key: SignupStatusKey, value: 'completed' }]);
  return `hello ${name}`;
}
