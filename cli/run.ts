import { Client, WorkflowFailedError, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, TypedSearchAttributes } from '@temporalio/common';
import type { PipelineSpec } from '../lib/spec/pipeline-spec';
import { modelNameOf } from '../lib/spec/pipeline-spec';
import type { PipelineOptions, RetrainOutcome, RetrainProgress } from '../workflows/retrain';
import { CPU_TASK_QUEUE, SA_ASSET_ID, SA_MODEL_NAME, SA_TRIGGER } from '../workflows/shared';
import type { TrainHeartbeat } from '../activities/training';
import { UserError, workflowUrl } from './context';

export type PipelineKind = 'RetrainWorkflow' | 'PretrainWorkflow';

export async function startPipeline(
  client: Client,
  kind: PipelineKind,
  spec: PipelineSpec,
  trigger = 'manual',
  options: PipelineOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const prefix = kind === 'PretrainWorkflow' ? 'pretrain' : 'retrain';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  return client.workflow.start(kind, {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: `${prefix}-${spec.assetId}-${stamp}`,
    args: [spec, options],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SA_ASSET_ID, value: spec.assetId },
      { key: SA_MODEL_NAME, value: modelNameOf(spec) },
      { key: SA_TRIGGER, value: trigger },
    ]),
    memo: { trigger },
  });
}

/** Latest fine-tune heartbeat of a running workflow, if training is under way. */
async function trainingHeartbeat(handle: WorkflowHandle): Promise<TrainHeartbeat | null> {
  const desc = await handle.describe();
  for (const a of desc.raw.pendingActivities ?? []) {
    const payload = a.heartbeatDetails?.payloads?.[0];
    if (a.activityType?.name === 'train' && payload) return defaultPayloadConverter.fromPayload<TrainHeartbeat>(payload);
  }
  return null;
}

/** Waits for the run, printing each step and training epoch as it happens. */
export async function followRun(handle: WorkflowHandle, log: (m: string) => void): Promise<RetrainOutcome> {
  const started = Date.now();
  let lastLine = '';
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s`;
  const show = () => {
    void (async () => {
      try {
        const p = await handle.query<RetrainProgress>('progress');
        let line = `step ${p.step}`;
        if (p.step === 'fineTune') {
          const hb = await trainingHeartbeat(handle);
          if (hb?.batch && hb.batches) line += `: ${hb.phase} epoch ${hb.epoch}, batch ${hb.batch}/${hb.batches}`;
          else if (hb) line += `: ${hb.phase}, ${hb.epoch} epoch(s) done`;
          if (hb?.lastValAccuracy !== undefined) line += ` (val acc ${(hb.lastValAccuracy * 100).toFixed(1)} %)`;
        }
        if (line !== lastLine) {
          log(`  ${elapsed()}  ${line}`);
          lastLine = line;
        }
      } catch {
        /* the query can fail while the workflow task is being retried; the next poll will tell */
      }
    })();
  };
  show();
  const poll = setInterval(show, 1000);
  try {
    return (await handle.result()) as RetrainOutcome;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      let cause: unknown = err.cause;
      while (cause && (cause as { cause?: unknown }).cause) cause = (cause as { cause?: unknown }).cause;
      const type = cause instanceof ApplicationFailure ? ` [${cause.type}]` : '';
      throw new UserError(`run ${handle.workflowId} failed${type}: ${(cause as Error | undefined)?.message ?? err.message}`);
    }
    throw err;
  } finally {
    clearInterval(poll);
  }
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

export function formatOutcome(o: RetrainOutcome, namespace: string, workflowId: string, runId: string): string {
  const lines = [
    `asset ${o.assetId}, model ${o.modelName}, dataset version ${o.datasetVersion.slice(0, 16)}`,
    `  ingest: ${o.ingest.objects} recordings, ${o.ingest.totalRows} rows${o.ingest.reused ? ' (reused)' : ''}`,
    ...(o.ingest.skipped ?? []).map((s) => `    skipped ${s.problem}`),
    `  preprocess: ${o.preprocess.counts.train} train / ${o.preprocess.counts.validation} validation / ${o.preprocess.counts.test} test windows${o.preprocess.reused ? ' (reused)' : ''}`,
  ];
  if (o.backbone) lines.push(`  backbone: ${o.backbone.ref} -> ${o.backbone.version ?? o.backbone.uri} (sha256 ${o.backbone.digest.weightsSha256.slice(0, 12)}… verified)`);
  lines.push(
    `  train: ${o.training.epochs} epochs, ${o.training.wallSeconds.toFixed(1)} s${o.training.stoppedEarly ? ', stopped early' : ''}${o.training.reused ? ' (reused)' : ''}${o.training.resumedFromEpoch !== null ? `, resumed after epoch ${o.training.resumedFromEpoch}` : ''}`,
    `  challenger: accuracy ${pct(o.validation.challenger.accuracy)}, macro-F1 ${pct(o.validation.challenger.macroF1)}`,
    o.validation.champion
      ? `  champion ${o.validation.champion.version}: accuracy ${pct(o.validation.champion.accuracy)}, macro-F1 ${pct(o.validation.champion.macroF1)}`
      : `  champion: ${o.validation.championNote ?? 'none'}`,
    `  gates: ${o.validation.passed ? 'passed' : 'FAILED'} (${o.validation.gates.checks.filter((c) => !c.passed).map((c) => c.detail).join('; ') || 'all ok'})`,
    `  promotion: ${o.promotion.promoted ? `${o.modelName}@production -> ${o.promotion.version}` : `not promoted (${o.promotion.reason})`}${o.promotion.previous ? `, previous ${o.promotion.previous}` : ''}`,
    `  report: ${o.validation.reportUri}`,
    `  Temporal UI: ${workflowUrl(namespace, workflowId, runId)}`,
  );
  return lines.join('\n');
}
