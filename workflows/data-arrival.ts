import {
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import type { createTriggerActivities } from '../activities/triggers';
import type { PipelineSpec } from '../lib/spec/pipeline-spec';
import type { ObjectRef } from '../lib/triggers/events';
import { RetrainWorkflow } from './retrain';
import { CPU_TASK_QUEUE, NON_RETRYABLE_TYPES, SA_ASSET_ID, SA_MODEL_NAME, SA_TRIGGER, NEW_OBJECTS_SIGNAL, TRIGGER_DATA_ARRIVAL } from './shared';

/**
 * One DataArrivalWorkflow per asset (id `data-arrival-<assetId>`), started or signalled with
 * signalWithStart by the webhook receiver and the polling sensor. It collects new object keys
 * (each object counted once), waits until uploads go quiet (or enough new data is pending, or
 * maxWait has passed since the first one), then runs one RetrainWorkflow for the batch as a child
 * and waits for it, so one asset never has two data-triggered retrains at once. Objects that
 * arrive meanwhile form the next batch. After each batch (or when the history grows long while
 * waiting) it continues as new, carrying the pending objects over.
 */
export interface NewObjects {
  /** The asset's spec as the sender parsed it (defaults filled); the latest one wins. */
  spec: PipelineSpec;
  objects: ObjectRef[];
  source: 'webhook' | 'poll' | 'manual';
}

export const newObjectsSignal = defineSignal<[NewObjects]>(NEW_OBJECTS_SIGNAL);

export interface LastRetrain {
  workflowId: string;
  status: 'completed' | 'failed';
  objects: number;
  /** Workflow time the retrain was started (ms since epoch). */
  startedAt: number;
  /** From the batch's first new object being reported to the retrain's start. */
  waitedMs: number;
  promoted?: boolean;
  error?: string;
}

export interface DataArrivalInput {
  spec: PipelineSpec;
  /** Carried over by continue-as-new; empty on the first start. */
  pending?: ObjectRef[];
  firstPendingAt?: number;
  lastNewAt?: number;
  /** Identities of objects already handed to a retrain (bounded), so late duplicates are dropped. */
  recent?: string[];
  batches?: number;
  duplicates?: number;
  reports?: number;
  lastRetrain?: LastRetrain;
}

export interface DataArrivalState {
  assetId: string;
  pending: number;
  pendingBytes: number;
  pendingKeys: string[];
  /** A retrain of this trigger is running now. */
  running: string | null;
  batches: number;
  /** Object reports received, and how many of them were duplicates. */
  reports: number;
  duplicates: number;
  lastRetrain: LastRetrain | null;
}

export const dataArrivalStateQuery = defineQuery<DataArrivalState>('dataArrivalState');

/** Memo of a data-triggered retrain keeps at most this many keys (the count is always exact). */
export const MEMO_MAX_KEYS = 100;
const RECENT_MAX = 5000;
/** Continue as new while waiting once the history is this long (signals and timers add events). */
const MAX_HISTORY_WHILE_WAITING = 5000;

function identity(o: Pick<ObjectRef, 'key' | 'etag'>): string {
  return o.etag ? `${o.key}#${o.etag.replace(/"/g, '')}` : o.key;
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
}

export async function DataArrivalWorkflow(input: DataArrivalInput): Promise<void> {
  let spec = input.spec;
  const pending = new Map<string, ObjectRef>((input.pending ?? []).map((o) => [identity(o), o]));
  const recent = new Set(input.recent ?? []);
  let firstPendingAt = input.firstPendingAt;
  let lastNewAt = input.lastNewAt;
  let duplicates = input.duplicates ?? 0;
  let reports = input.reports ?? 0;
  let arrivals = 0;
  let running: string | null = null;
  let lastRetrain = input.lastRetrain ?? null;
  const batches = input.batches ?? 0;

  setHandler(newObjectsSignal, (msg) => {
    if (msg.spec.assetId === spec.assetId) spec = msg.spec;
    for (const o of msg.objects) {
      reports++;
      const id = identity(o);
      if (pending.has(id) || recent.has(id)) {
        duplicates++;
        continue;
      }
      pending.set(id, o);
      const now = Date.now();
      firstPendingAt ??= now;
      lastNewAt = now;
      arrivals++;
    }
  });
  const pendingBytes = () => [...pending.values()].reduce((s, o) => s + (o.size ?? 0), 0);
  setHandler(dataArrivalStateQuery, () => ({
    assetId: spec.assetId,
    pending: pending.size,
    pendingBytes: pendingBytes(),
    pendingKeys: [...pending.values()].slice(0, MEMO_MAX_KEYS).map((o) => o.key),
    running,
    batches,
    reports,
    duplicates,
    lastRetrain,
  }));

  const carry = (): DataArrivalInput => ({
    spec,
    pending: [...pending.values()],
    firstPendingAt,
    lastNewAt,
    recent: [...recent].slice(-RECENT_MAX),
    batches,
    duplicates,
    reports,
    lastRetrain: lastRetrain ?? undefined,
  });

  // Wait for the first new object.
  await condition(() => pending.size > 0 || workflowInfo().continueAsNewSuggested);
  if (pending.size === 0) return continueAsNew<typeof DataArrivalWorkflow>(carry());

  // Wait for quiet, or for enough new data, or for maxWait since the first new object.
  for (;;) {
    const t = spec.trigger.dataArrival;
    if (t.minNewObjects > 0 && pending.size >= t.minNewObjects) break;
    if (t.minNewBytes > 0 && pendingBytes() >= t.minNewBytes) break;
    const now = Date.now();
    const due = Math.min((lastNewAt ?? now) + msToNumber(t.quietPeriod), (firstPendingAt ?? now) + msToNumber(t.maxWait));
    if (due <= now) break;
    if (workflowInfo().historyLength > MAX_HISTORY_WHILE_WAITING || workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof DataArrivalWorkflow>(carry());
    }
    const seen = arrivals;
    await condition(() => arrivals !== seen, due - now);
  }

  // One retrain for the batch; objects arriving meanwhile wait for the next one.
  const batch = [...pending.values()];
  pending.clear();
  for (const o of batch) recent.add(identity(o));
  const waitedMs = Date.now() - (firstPendingAt ?? Date.now());
  firstPendingAt = undefined;
  lastNewAt = undefined;
  const modelName = spec.modelName ?? spec.assetId;
  const startedAt = Date.now();
  const childId = `retrain-${spec.assetId}-arrival-${stamp(startedAt)}`;
  running = childId;
  upsertMemo({ lastBatch: { retrainWorkflowId: childId, objects: batch.length } });
  log.info('data arrival: starting retrain', { assetId: spec.assetId, workflowId: childId, objects: batch.length, waitedMs });
  const keys = batch.map((o) => o.key).sort();
  try {
    const outcome = await executeChild(RetrainWorkflow, {
      workflowId: childId,
      taskQueue: CPU_TASK_QUEUE,
      args: [spec],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: SA_ASSET_ID, value: spec.assetId },
        { key: SA_MODEL_NAME, value: modelName },
        { key: SA_TRIGGER, value: TRIGGER_DATA_ARRIVAL },
      ],
      memo: {
        trigger: TRIGGER_DATA_ARRIVAL,
        objectCount: keys.length,
        objectKeys: keys.slice(0, MEMO_MAX_KEYS),
        objectBytes: batch.reduce((s, o) => s + (o.size ?? 0), 0),
        dataArrivalWorkflowId: workflowInfo().workflowId,
        waitedMs,
      },
    });
    lastRetrain = { workflowId: childId, status: 'completed', objects: batch.length, startedAt, waitedMs, promoted: outcome.promotion.promoted };
  } catch (err) {
    if (!(err instanceof ChildWorkflowFailure)) throw err;
    // A failed retrain (bad data, gates) must not stop the trigger: the next batch retrains on the whole prefix again.
    const cause = err.cause instanceof ApplicationFailure || err.cause instanceof Error ? err.cause.message : err.message;
    lastRetrain = { workflowId: childId, status: 'failed', objects: batch.length, startedAt, waitedMs, error: cause };
    log.warn('data arrival: retrain failed', { assetId: spec.assetId, workflowId: childId, error: cause });
  }
  running = null;
  return continueAsNew<typeof DataArrivalWorkflow>({ ...carry(), batches: batches + 1 });
}

type TriggerActivities = ReturnType<typeof createTriggerActivities>;

const triggerActivities = proxyActivities<TriggerActivities>({
  taskQueue: CPU_TASK_QUEUE,
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
});

export interface PollResult {
  assetId: string;
  listed: number;
  /** Objects newer than the watermark and not seen before; signalled to the DataArrivalWorkflow. */
  newObjects: number;
  newKeys: string[];
  watermark: string | null;
  /** True on the first poll of an asset: existing objects become the baseline, nothing is signalled. */
  baseline: boolean;
}

/**
 * The polling sensor, for S3 setups without bucket notifications: run on a schedule
 * (`poll-<assetId>`), it lists the asset's prefixes since a watermark kept in S3 and signals the
 * same DataArrivalWorkflow the webhook receiver does.
 */
export async function PollPrefixWorkflow(spec: PipelineSpec): Promise<PollResult> {
  upsertSearchAttributes([{ key: SA_ASSET_ID, value: spec.assetId }]);
  return triggerActivities.pollPrefix(spec);
}
