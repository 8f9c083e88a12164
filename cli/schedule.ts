import type { Command } from 'commander';
import { Option } from 'commander';
import type { ScheduleDescription } from '@temporalio/client';
import {
  backfillSchedule,
  describeSchedule,
  describeScheduleSpec,
  formatMs,
  listSchedules,
  overlapPolicy,
  resolveScheduleOptions,
  scheduleHandle,
  ScheduleKind,
  ScheduleOptionsError,
  upsertSchedule,
} from '../lib/triggers/schedules';
import { loadSpec, UserError, withTemporal, workflowUrl } from './context';

/**
 * `pdmctl schedule create|list|describe|pause|unpause|trigger|backfill|delete`: one Temporal
 * Schedule per asset (`retrain-<asset>`, or `poll-<asset>` with --kind poll for the polling
 * sensor). The Temporal-facing logic is in lib/triggers/schedules.ts; this file is only the CLI.
 */
type Action = <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) => (...args: A) => Promise<void>;

const log = (m: string) => console.log(m);
const kindOption = () => new Option('--kind <kind>', 'retrain (RetrainWorkflow) or poll (the polling sensor, PollPrefixWorkflow)').choices(['retrain', 'poll']).default('retrain');

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleOptionsError) throw new UserError(err.message);
    throw err;
  }
}

function formatDescription(d: ScheduleDescription, namespace: string): string {
  const action = d.action as { workflowType?: string; workflowId?: string; taskQueue?: string };
  const memo = (d.memo ?? {}) as { assetId?: string };
  const lines = [
    `${d.scheduleId}: ${d.state.paused ? 'PAUSED' : 'active'}${memo.assetId ? `, asset ${memo.assetId}` : ''}`,
    `  when: ${describeScheduleSpec(d)}`,
    `  action: ${action.workflowType ?? '?'} on ${action.taskQueue ?? '?'} (workflow id ${action.workflowId ?? '?'}-<time>)`,
    `  policies: overlap ${d.policies.overlap}, catch-up window ${formatMs(d.policies.catchupWindow)}, pause on failure ${d.policies.pauseOnFailure ? 'yes' : 'no'}`,
    `  note: ${d.state.note ?? '-'}`,
    `  runs: ${d.info.numActionsTaken} taken, ${d.info.numActionsSkippedOverlap} skipped (overlap), ${d.info.numActionsMissedCatchupWindow} missed (catch-up window)`,
  ];
  for (const r of d.info.runningActions) lines.push(`  running: ${r.workflow.workflowId} ${workflowUrl(namespace, r.workflow.workflowId, r.workflow.firstExecutionRunId)}`);
  for (const r of d.info.recentActions.slice(-5)) lines.push(`  recent: ${r.takenAt.toISOString()} ${r.action.workflow.workflowId}`);
  lines.push(`  next: ${d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()).join(', ') || (d.state.paused ? '(paused)' : '-')}`);
  return lines.join('\n');
}

export function registerScheduleCommands(program: Command, action: Action): Command {
  const schedule = program.command('schedule').description('scheduled retraining (and the polling sensor): one Temporal Schedule per asset');

  schedule.command('create').description('create the asset\'s schedule, or update it in place if it exists (e.g. after a spec change)')
    .argument('<asset>', 'asset id (uses specs/<asset>.yaml) or a spec file')
    .option('--spec <file>', 'pipeline spec file (JSON or YAML)')
    .addOption(kindOption())
    .option('--every <duration>', 'interval, e.g. 24h, 30m (default: spec trigger.schedule.every, else 24h; poll: trigger.poll.every)')
    .option('--offset <duration>', 'offset of the interval, e.g. --every 24h --offset 3h runs at 03:00')
    .option('--cron <expr...>', 'cron expression(s), e.g. "0 3 * * *" (wins over --every)')
    .option('--jitter <duration>', 'random delay added to each run, e.g. 10m')
    .option('--time-zone <tz>', 'IANA time zone of cron expressions (default UTC)')
    .option('--overlap <policy>', 'skip (default) | buffer_one | buffer_all | cancel_other | terminate_other | allow_all')
    .option('--catchup-window <duration>', 'missed runs older than this are not made up (default 1h)')
    .option('--pause-on-failure', 'pause the schedule when a run fails')
    .option('--no-pause-on-failure', 'keep running after a failed run (default)')
    .option('--paused', 'create paused')
    .option('--note <text>', 'note shown in describe and the UI')
    .action(action(async (asset: string, o: { spec?: string; kind: ScheduleKind; every?: string; offset?: string; cron?: string[]; jitter?: string; timeZone?: string; overlap?: string; catchupWindow?: string; pauseOnFailure?: boolean; paused?: boolean; note?: string }) =>
      guard(async () => {
        const { spec, path } = loadSpec(asset, o.spec);
        overlapPolicy(o.overlap); // validates the spelling early
        const options = resolveScheduleOptions(spec, {
          kind: o.kind,
          every: o.every,
          offset: o.offset,
          cron: o.cron,
          jitter: o.jitter,
          timeZone: o.timeZone,
          overlap: o.overlap?.toLowerCase().replace(/-/g, '_') as never,
          catchupWindow: o.catchupWindow,
          pauseOnFailure: o.pauseOnFailure,
          paused: o.paused,
          note: o.note,
        });
        await withTemporal(async (client, namespace) => {
          const res = await upsertSchedule(client, spec, options);
          log(`${res.created ? 'created' : 'updated'} schedule ${res.scheduleId} for ${spec.assetId} (spec ${path})`);
          log(formatDescription(await describeSchedule(client, spec.assetId, options.kind), namespace));
        });
      })));

  schedule.command('list').description('schedules of all assets').action(action(async () => withTemporal(async (client) => {
    const all = await listSchedules(client);
    if (!all.length) log('no schedules (create one with: pdmctl schedule create <asset>)');
    for (const s of all) {
      const next = s.info?.nextActionTimes?.[0];
      const last = s.info?.recentActions?.at(-1);
      const wf = s.action as { workflowType?: string } | undefined;
      log(`${s.scheduleId.padEnd(28)} ${s.state.paused ? 'PAUSED' : 'active'}  ${(wf?.workflowType ?? '').padEnd(18)} ${s.spec ? describeScheduleSpec({ spec: s.spec }) : ''}  next ${next?.toISOString() ?? '-'}  last ${last?.action.workflow.workflowId ?? '-'}`);
    }
  })));

  const byAsset = (name: string, description: string) =>
    schedule.command(name).description(description).argument('<asset>', 'asset id').addOption(kindOption());

  byAsset('describe', 'timing, policies, running and recent runs of an asset\'s schedule')
    .action(action(async (asset: string, o: { kind: ScheduleKind }) => guard(() => withTemporal(async (client, namespace) => log(formatDescription(await describeSchedule(client, asset, o.kind), namespace))))));
  byAsset('pause', 'stop starting runs (running ones continue)').option('--note <text>', 'why')
    .action(action(async (asset: string, o: { kind: ScheduleKind; note?: string }) => guard(() => withTemporal(async (client) => {
      await describeSchedule(client, asset, o.kind);
      await scheduleHandle(client, asset, o.kind).pause(o.note ?? `paused by ${process.env.USER ?? 'pdmctl'}`);
      log(`paused ${scheduleHandle(client, asset, o.kind).scheduleId}`);
    }))));
  byAsset('unpause', 'resume starting runs').option('--note <text>', 'why')
    .action(action(async (asset: string, o: { kind: ScheduleKind; note?: string }) => guard(() => withTemporal(async (client) => {
      await describeSchedule(client, asset, o.kind);
      await scheduleHandle(client, asset, o.kind).unpause(o.note ?? `unpaused by ${process.env.USER ?? 'pdmctl'}`);
      log(`unpaused ${scheduleHandle(client, asset, o.kind).scheduleId}`);
    }))));
  byAsset('trigger', 'start a run now (by default under the schedule\'s overlap policy: skipped while one is running)')
    .option('--overlap <policy>', 'override the overlap policy for this run, e.g. allow_all')
    .action(action(async (asset: string, o: { kind: ScheduleKind; overlap?: string }) => guard(() => withTemporal(async (client) => {
      const d = await describeSchedule(client, asset, o.kind);
      await scheduleHandle(client, asset, o.kind).trigger(overlapPolicy(o.overlap) ?? d.policies.overlap);
      log(`triggered ${d.scheduleId} (overlap ${o.overlap ?? d.policies.overlap}); see: pdmctl schedule describe ${asset}${o.kind === 'poll' ? ' --kind poll' : ''}`);
    }))));
  byAsset('backfill', 'take the runs the schedule would have taken in a past time range')
    .requiredOption('--start <time>', 'ISO time, e.g. 2026-01-01T00:00:00Z')
    .requiredOption('--end <time>', 'ISO time')
    .option('--overlap <policy>', 'overlap policy for the backfilled runs (default buffer_all: one after another)')
    .action(action(async (asset: string, o: { kind: ScheduleKind; start: string; end: string; overlap?: string }) => guard(() => withTemporal(async (client) => {
      if (Number.isNaN(Date.parse(o.start)) || Number.isNaN(Date.parse(o.end))) throw new UserError('backfill: --start and --end must be ISO times');
      await backfillSchedule(client, asset, o.kind, { start: o.start, end: o.end, overlap: o.overlap?.toLowerCase().replace(/-/g, '_') as never });
      log(`backfill of ${scheduleHandle(client, asset, o.kind).scheduleId} from ${o.start} to ${o.end} requested`);
    }))));
  byAsset('delete', 'delete the asset\'s schedule (running runs continue)')
    .action(action(async (asset: string, o: { kind: ScheduleKind }) => guard(() => withTemporal(async (client) => {
      await describeSchedule(client, asset, o.kind);
      await scheduleHandle(client, asset, o.kind).delete();
      log(`deleted ${scheduleHandle(client, asset, o.kind).scheduleId}`);
    }))));
  return schedule;
}
