import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/**
 * Whether a task queue has workflow pollers, asked once per queue. A workflow on a queue nobody
 * polls (an old test, a retired deployment) is not stuck on SMTP or the database: it waits for a
 * worker that will never come, and the operator CLIs set it apart.
 */
export function taskQueuePolled(client: Client, namespace: string): (taskQueue: string) => Promise<boolean> {
  const polled = new Map<string, boolean>();
  return async (taskQueue) => {
    if (!polled.has(taskQueue)) {
      const res = await client.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      polled.set(taskQueue, (res.pollers ?? []).length > 0);
    }
    return polled.get(taskQueue)!;
  };
}
