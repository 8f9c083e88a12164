import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import {
  createIngestActivities,
  createModelActivities,
  createPreprocessActivities,
  createRegistryActivities,
  createTrainingActivities,
  createValidationActivities,
} from '../activities';
import type { ModelDeps } from '../activities/deps';
import { createTriggerActivities } from '../activities/triggers';
import { CPU_TASK_QUEUE, GPU_TASK_QUEUE } from '../workflows/shared';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ModelDeps;
  taskQueue?: string;
  /** Payload encryption (workers/payload-codec.ts); must match the clients'. */
  dataConverter?: DataConverter;
}

/** Workflows plus the data, validation and registry activities. */
export function createCpuWorker(o: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? CPU_TASK_QUEUE,
    dataConverter: o.dataConverter,
    workflowsPath: require.resolve('../workflows'),
    activities: {
      ...createIngestActivities(o.deps),
      ...createPreprocessActivities(o.deps),
      ...createModelActivities(o.deps),
      ...createValidationActivities(o.deps),
      ...createRegistryActivities(o.deps),
      ...createTriggerActivities(o.deps),
    },
    // Preprocess holds a dataset in memory; two at once is plenty on a small node.
    maxConcurrentActivityTaskExecutions: 2,
  });
}

/** Training only, one at a time: a GPU (or a CPU node's cores) serves one fine-tune well, not two. */
export function createGpuWorker(o: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? GPU_TASK_QUEUE,
    dataConverter: o.dataConverter,
    activities: createTrainingActivities(o.deps),
    maxConcurrentActivityTaskExecutions: 1,
  });
}
