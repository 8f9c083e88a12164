import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { DataArrivalInput, NewObjects } from '../../workflows/data-arrival';
import { CPU_TASK_QUEUE, dataArrivalWorkflowId, NEW_OBJECTS_SIGNAL, SA_ASSET_ID, SA_MODEL_NAME, SA_TRIGGER, TRIGGER_DATA_ARRIVAL } from '../../workflows/shared';
import type { PipelineSpec } from '../spec/pipeline-spec';
import { modelNameOf } from '../spec/pipeline-spec';
import type { ObjectRef } from './events';

/**
 * Reports new objects of one asset to its DataArrivalWorkflow, starting it if it is not running
 * (signalWithStart: atomic, so two receivers or a receiver and the poller never start two).
 * Used by the webhook receiver and the polling activity.
 */
export async function signalDataArrival(client: Client, spec: PipelineSpec, objects: ObjectRef[], source: NewObjects['source']): Promise<{ workflowId: string; runId: string }> {
  const workflowId = dataArrivalWorkflowId(spec.assetId);
  const start: DataArrivalInput = { spec };
  const signal: NewObjects = { spec, objects, source };
  const handle = await client.workflow.signalWithStart('DataArrivalWorkflow', {
    workflowId,
    taskQueue: CPU_TASK_QUEUE,
    args: [start],
    signal: NEW_OBJECTS_SIGNAL,
    signalArgs: [signal],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SA_ASSET_ID, value: spec.assetId },
      { key: SA_MODEL_NAME, value: modelNameOf(spec) },
      { key: SA_TRIGGER, value: TRIGGER_DATA_ARRIVAL },
    ]),
    memo: { trigger: TRIGGER_DATA_ARRIVAL, role: 'collects new objects and starts one retrain per batch' },
  });
  return { workflowId, runId: handle.signaledRunId };
}
