import {
  Client,
  ScheduleAlreadyRunning,
  ScheduleDescription,
  ScheduleHandle,
  ScheduleNotFoundError,
  ScheduleOptionsStartWorkflowAction,
  ScheduleOverlapPolicy,
  ScheduleSpec,
  ScheduleSummary,
  Workflow,
} from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { z } from 'zod';
import { CPU_TASK_QUEUE, pollScheduleId, retrainScheduleId, SA_ASSET_ID, SA_MODEL_NAME, SA_TRIGGER, TRIGGER_SCHEDULE } from '../../workflows/shared';
import { DurationText, formatZodError, modelNameOf, OverlapPolicyName, PipelineSpec } from '../spec/pipeline-spec';

/**
 * Temporal Schedules, one per asset and kind: `retrain-<assetId>` starts RetrainWorkflow with the
 * asset's spec, `poll-<assetId>` starts PollPrefixWorkflow (the polling sensor). Creating an
 * existing schedule updates it in place (spec, timing, policies), so re-running `create` after a
 * spec change never duplicates anything. Options come from the command line over the spec's
 * trigger.schedule section over the defaults below, validated with zod.
 */
export type ScheduleKind = 'retrain' | 'poll';

export const ScheduleOptionsSchema = z
  .object({
    kind: z.enum(['retrain', 'poll']).default('retrain'),
    /** Interval between runs ("24h", "30m"). Default "24h" for retrain, the spec's trigger.poll.every for poll. */
    every: DurationText.optional(),
    /** Offset of the interval (e.g. every 24h at offset 3h = 03:00 UTC). */
    offset: DurationText.optional(),
    /** Cron expression(s); win over every. */
    cron: z.array(z.string().min(1)).optional(),
    /** Random delay up to this much, per run. Default none. */
    jitter: DurationText.optional(),
    /** IANA time zone for cron. Default "UTC". */
    timeZone: z.string().min(1).default('UTC'),
    overlap: OverlapPolicyName.default('skip'),
    /** Missed runs older than this (e.g. while the server was down) are skipped. Default "1h". */
    catchupWindow: DurationText.default('1h'),
    pauseOnFailure: z.boolean().default(false),
    /** Create (or leave) the schedule paused. */
    paused: z.boolean().optional(),
    note: z.string().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.timeZone !== 'UTC') {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: o.timeZone });
      } catch {
        ctx.addIssue({ code: 'custom', path: ['timeZone'], message: `unknown IANA time zone "${o.timeZone}"` });
      }
    }
    for (const c of o.cron ?? []) {
      const fields = c.trim().replace(/^(CRON_TZ|TZ)=\S+\s+/, '').split(/\s+/);
      if (!c.trim().startsWith('@') && (fields.length < 5 || fields.length > 7)) {
        ctx.addIssue({ code: 'custom', path: ['cron'], message: `"${c}" is not a cron expression (5 fields: minute hour day-of-month month day-of-week)` });
      }
    }
  });
export type ScheduleOptionsInput = z.input<typeof ScheduleOptionsSchema>;
export type ScheduleOptionsResolved = z.output<typeof ScheduleOptionsSchema>;

export class ScheduleOptionsError extends Error {
  override name = 'InvalidScheduleOptions';
}

/** Command-line options over the spec's trigger.schedule over defaults; undefined means "not given". */
export function resolveScheduleOptions(spec: PipelineSpec, cli: ScheduleOptionsInput): ScheduleOptionsResolved {
  const fromSpec = spec.trigger.schedule ?? {};
  const kind = cli.kind ?? 'retrain';
  const specCron = fromSpec.cron === undefined ? undefined : Array.isArray(fromSpec.cron) ? fromSpec.cron : [fromSpec.cron];
  const merged: ScheduleOptionsInput =
    kind === 'poll'
      ? { ...cli, kind, every: cli.cron ? undefined : (cli.every ?? spec.trigger.poll.every) }
      : {
          timeZone: fromSpec.timeZone,
          jitter: fromSpec.jitter,
          overlap: fromSpec.overlap,
          catchupWindow: fromSpec.catchupWindow,
          pauseOnFailure: fromSpec.pauseOnFailure,
          ...Object.fromEntries(Object.entries(cli).filter(([, v]) => v !== undefined)),
          kind,
        };
  if (kind === 'retrain' && !cli.cron && !cli.every) {
    if (specCron) merged.cron = specCron;
    else merged.every = fromSpec.every ?? '24h';
  }
  const parsed = ScheduleOptionsSchema.safeParse(merged);
  if (!parsed.success) throw new ScheduleOptionsError(`schedule options: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

export function scheduleIdOf(assetId: string, kind: ScheduleKind): string {
  return kind === 'poll' ? pollScheduleId(assetId) : retrainScheduleId(assetId);
}

const OVERLAP: Record<z.output<typeof OverlapPolicyName>, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  buffer_one: ScheduleOverlapPolicy.BUFFER_ONE,
  buffer_all: ScheduleOverlapPolicy.BUFFER_ALL,
  cancel_other: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminate_other: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allow_all: ScheduleOverlapPolicy.ALLOW_ALL,
};

export function overlapPolicy(name: string | undefined): ScheduleOverlapPolicy | undefined {
  if (name === undefined) return undefined;
  const parsed = OverlapPolicyName.safeParse(name.toLowerCase().replace(/-/g, '_'));
  if (!parsed.success) throw new ScheduleOptionsError(`overlap: must be one of ${OverlapPolicyName.options.join(', ')}`);
  return OVERLAP[parsed.data];
}

function scheduleSpec(o: ScheduleOptionsResolved): ScheduleSpec {
  return o.cron?.length
    ? { cronExpressions: o.cron, jitter: o.jitter, timezone: o.timeZone }
    : { intervals: [{ every: o.every ?? '24h', offset: o.offset }], jitter: o.jitter, timezone: o.timeZone };
}

function action(spec: PipelineSpec, kind: ScheduleKind): ScheduleOptionsStartWorkflowAction<Workflow> {
  const scheduleId = scheduleIdOf(spec.assetId, kind);
  return {
    type: 'startWorkflow',
    workflowType: kind === 'poll' ? 'PollPrefixWorkflow' : 'RetrainWorkflow',
    // Temporal appends the scheduled time to this id, one run per firing.
    workflowId: kind === 'poll' ? `poll-${spec.assetId}` : `retrain-${spec.assetId}-scheduled`,
    taskQueue: CPU_TASK_QUEUE,
    args: [spec],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SA_ASSET_ID, value: spec.assetId },
      { key: SA_MODEL_NAME, value: modelNameOf(spec) },
      { key: SA_TRIGGER, value: kind === 'poll' ? 'poll' : TRIGGER_SCHEDULE },
    ]),
    memo: { trigger: kind === 'poll' ? 'poll' : TRIGGER_SCHEDULE, scheduleId },
  };
}

export interface UpsertResult {
  scheduleId: string;
  created: boolean;
}

/** Creates the asset's schedule, or updates it in place if it exists (never a second one). */
export async function upsertSchedule(client: Client, spec: PipelineSpec, options: ScheduleOptionsResolved): Promise<UpsertResult> {
  const scheduleId = scheduleIdOf(spec.assetId, options.kind);
  const policies = { overlap: OVERLAP[options.overlap], catchupWindow: options.catchupWindow, pauseOnFailure: options.pauseOnFailure };
  const update = async (): Promise<UpsertResult> => {
    await client.schedule.getHandle(scheduleId).update((prev) => ({
      ...prev,
      spec: scheduleSpec(options),
      action: action(spec, options.kind),
      policies,
      state: {
        ...prev.state,
        paused: options.paused ?? prev.state.paused,
        note: options.note ?? (options.paused !== undefined ? `${options.paused ? 'paused' : 'unpaused'} by pdmctl schedule create` : prev.state.note),
      },
    }));
    return { scheduleId, created: false };
  };
  try {
    await client.schedule.getHandle(scheduleId).describe();
    return await update();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  try {
    await client.schedule.create({
      scheduleId,
      spec: scheduleSpec(options),
      action: action(spec, options.kind),
      policies,
      state: { paused: options.paused ?? false, note: options.note ?? `created by pdmctl for asset ${spec.assetId}` },
      memo: { assetId: spec.assetId, kind: options.kind },
      typedSearchAttributes: new TypedSearchAttributes([{ key: SA_ASSET_ID, value: spec.assetId }]),
    });
    return { scheduleId, created: true };
  } catch (err) {
    // Lost a race with another `create`: update what it made.
    if (err instanceof ScheduleAlreadyRunning) return update();
    throw err;
  }
}

export function scheduleHandle(client: Client, assetId: string, kind: ScheduleKind = 'retrain'): ScheduleHandle {
  return client.schedule.getHandle(scheduleIdOf(assetId, kind));
}

/** describe() with a one-line error for a schedule that does not exist. */
export async function describeSchedule(client: Client, assetId: string, kind: ScheduleKind = 'retrain'): Promise<ScheduleDescription> {
  try {
    return await scheduleHandle(client, assetId, kind).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new ScheduleOptionsError(`no ${kind} schedule for asset "${assetId}" (${scheduleIdOf(assetId, kind)}); create it with: pdmctl schedule create ${assetId}${kind === 'poll' ? ' --kind poll' : ''}`);
    throw err;
  }
}

/** Our schedules (ids retrain-* / poll-*), newest first is not guaranteed: listing is eventually consistent. */
export async function listSchedules(client: Client): Promise<ScheduleSummary[]> {
  const out: ScheduleSummary[] = [];
  for await (const s of client.schedule.list()) {
    if (/^(retrain|poll)-/.test(s.scheduleId)) out.push(s);
  }
  return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

export const BackfillSchema = z
  .object({
    start: z.coerce.date(),
    end: z.coerce.date(),
    overlap: OverlapPolicyName.optional(),
  })
  .refine((b) => b.end > b.start, { message: 'end must be after start', path: ['end'] });

export async function backfillSchedule(client: Client, assetId: string, kind: ScheduleKind, input: z.input<typeof BackfillSchema>): Promise<void> {
  const parsed = BackfillSchema.safeParse(input);
  if (!parsed.success) throw new ScheduleOptionsError(`backfill: ${formatZodError(parsed.error)}`);
  await describeSchedule(client, assetId, kind);
  // Backfilled runs start under the schedule's overlap policy unless told otherwise (default: all of them, one after another).
  await scheduleHandle(client, assetId, kind).backfill({ start: parsed.data.start, end: parsed.data.end, overlap: OVERLAP[parsed.data.overlap ?? 'buffer_all'] });
}

export function describeScheduleSpec(d: Pick<ScheduleDescription, 'spec'>): string {
  const parts: string[] = [];
  for (const i of d.spec.intervals ?? []) parts.push(`every ${formatMs(Number(i.every))}${i.offset ? ` (offset ${formatMs(Number(i.offset))})` : ''}`);
  for (const c of d.spec.calendars ?? []) parts.push(`calendar ${JSON.stringify(c)}`);
  if ('cronExpressions' in d.spec && Array.isArray((d.spec as { cronExpressions?: string[] }).cronExpressions)) parts.push(...(d.spec as { cronExpressions: string[] }).cronExpressions.map((c) => `cron "${c}"`));
  if (d.spec.jitter) parts.push(`jitter ${formatMs(Number(d.spec.jitter))}`);
  if (d.spec.timezone) parts.push(`tz ${d.spec.timezone}`);
  return parts.join(', ') || '(no times)';
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
