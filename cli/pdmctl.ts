import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { health, loadStackConfig, startStack, startWorker, stopStack } from '../infra/stack';
import { isPdmError } from '../lib/errors';
import { ModelRegistry } from '../lib/registry/registry';
import type { RetrainOutcome } from '../workflows/retrain';
import { applyLocalStackEnv, loadSpec, UserError, withStore, withTemporal, workflowUrl } from './context';
import { followRun, formatOutcome, PipelineKind, startPipeline } from './run';
import { codecFromEnv } from '../workers/payload-codec';
import { createCodecServer } from '../workers/codec-server';
import { registerScheduleCommands } from './schedule';
import { describeTrigger, formatDataArrivalState } from './trigger-info';
import { DEFAULT_CWRU_DIR, itemsFromDir, simulatedItems, upload } from './seed';

const log = (m: string) => console.log(m);

async function up(opts: { workers: boolean; receiver?: boolean }): Promise<void> {
  const cfg = loadStackConfig();
  await startStack(cfg, log);
  applyLocalStackEnv(cfg);
  if (opts.receiver) await startWorker(cfg, 'receiver', log);
  if (opts.workers) {
    await startWorker(cfg, 'cpu-worker', log);
    await startWorker(cfg, 'gpu-worker', log);
  }
}

async function seed(opts: { from?: string; asset?: string; simulated?: boolean }): Promise<'cwru' | 'sim' | 'custom'> {
  let items;
  let kind: 'cwru' | 'sim' | 'custom';
  if (opts.simulated) {
    kind = 'sim';
    items = simulatedItems();
    log('seed: SIMULATED fleet (lib/sim/fleet.ts: synthetic bearing-fault vibration, not real data)');
  } else if (opts.from) {
    kind = 'custom';
    items = itemsFromDir(opts.from, opts.asset ?? 'custom');
    log(`seed: ${items.length} files from ${opts.from} as asset "${opts.asset ?? 'custom'}"`);
  } else if (existsSync(DEFAULT_CWRU_DIR)) {
    kind = 'cwru';
    items = itemsFromDir(DEFAULT_CWRU_DIR, 'cwru');
    log(`seed: real CWRU bearing data from ${DEFAULT_CWRU_DIR} (${items.length} files)`);
  } else {
    kind = 'sim';
    items = simulatedItems();
    log(`seed: no real data at ${DEFAULT_CWRU_DIR}; using the SIMULATED fleet instead (synthetic, documented in lib/sim/fleet.ts)`);
  }
  const res = await withStore((store) => upload(store, items, log));
  log(`seed: ${res.uploaded} uploaded (${(res.bytes / 1e6).toFixed(1)} MB), ${res.skipped} already there`);
  return kind;
}

async function runSpec(kind: PipelineKind, assetOrPath: string, opts: { spec?: string; wait: boolean; force?: boolean }): Promise<RetrainOutcome | null> {
  const { spec, path } = loadSpec(assetOrPath, opts.spec);
  return withTemporal(async (client, namespace) => {
    const handle = await startPipeline(client, kind, spec, 'manual', { force: opts.force ?? false });
    log(`${kind} started for ${spec.assetId} (spec ${path})`);
    log(`  workflow ${handle.workflowId}: ${workflowUrl(namespace, handle.workflowId, handle.firstExecutionRunId)}`);
    if (!opts.wait) return null;
    const outcome = await followRun(handle, log);
    log(formatOutcome(outcome, namespace, handle.workflowId, handle.firstExecutionRunId));
    return outcome;
  });
}

async function demo(): Promise<void> {
  const started = Date.now();
  log('== 1/4 local stack (Temporal dev server, MinIO, workers)');
  await up({ workers: true });
  log('== 2/4 data');
  const kind = await seed({});
  const prefix = kind === 'sim' ? 'sim' : 'cwru';
  log(`== 3/4 pretrain the fleet backbone (${prefix}-backbone, loads 0-2)`);
  await runSpec('PretrainWorkflow', `${prefix}-backbone`, { wait: true });
  log(`== 4/4 fine-tune for the load-3 asset (${prefix}-load3), validate against production, promote`);
  const outcome = await runSpec('RetrainWorkflow', `${prefix}-load3`, { wait: true });
  const cfg = loadStackConfig();
  log('');
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s. ${outcome?.promotion.promoted ? `${outcome.modelName}@production is ${outcome.promotion.version}.` : 'Nothing was promoted.'}`);
  log(`The stack is still up: Temporal UI http://127.0.0.1:${cfg.PDM_TEMPORAL_UI_PORT}, MinIO console http://127.0.0.1:${cfg.PDM_MINIO_CONSOLE_PORT} (credentials in ${cfg.PDM_STATE_DIR}/minio-credentials.json).`);
  log('Try: npx pdmctl models list | npx pdmctl retrain cwru-load3 | npm stop (stops everything)');
}

function action<A extends unknown[]>(fn: (...args: A) => Promise<unknown>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const msg = err instanceof UserError || isPdmError(err) ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      console.error(`pdmctl: ${msg.split('\n')[0]}`);
      if (process.env.PDM_DEBUG) console.error(err);
      process.exit(1);
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('pdmctl').description('Durable retraining pipelines for predictive-maintenance models').showHelpAfterError();

  program.command('up').description('start the local stack: Temporal dev server, MinIO, and the CPU and GPU workers')
    .option('--no-workers', 'start only Temporal and MinIO')
    .option('--receiver', 'also start the data-arrival webhook receiver (MinIO bucket notifications -> retrains)')
    .action(action(async (opts: { workers: boolean; receiver?: boolean }) => up(opts)));
  program.command('down').description('stop everything `up` started (state is kept)').action(action(async () => stopStack(loadStackConfig(), log)));
  program.command('health').description('is the local stack up?').action(action(async () => {
    const h = await health(loadStackConfig());
    log(`temporal: ${h.temporal ? 'up' : 'down'}\nminio: ${h.minio ? 'up' : 'down'}`);
    if (!h.temporal || !h.minio) process.exitCode = 1;
  }));
  program.command('seed').description('upload recordings in the asset layout (default: the real CWRU data if present, else a simulated fleet)')
    .option('--from <dir>', 'your own Arrow recordings (files named load<H>_* go to <asset>-load<H>; labels.arrow to labels/<asset>.arrow)')
    .option('--asset <id>', 'asset id prefix for --from', 'custom')
    .option('--simulated', 'upload the simulated fleet')
    .action(action(async (opts: { from?: string; asset?: string; simulated?: boolean }) => seed(opts)));
  program.command('pretrain').description('train the fleet backbone from scratch and register it')
    .argument('[spec]', 'spec name under specs/ or a file', 'cwru-backbone')
    .option('--no-wait', 'start and return')
    .option('--force', 'recompute every step even if its output for the same inputs exists')
    .action(action(async (spec: string, opts: { wait: boolean; force?: boolean }) => runSpec('PretrainWorkflow', spec, opts)));
  program.command('retrain').description('fine-tune, validate and promote the model of one asset')
    .argument('<asset>', 'asset id (uses specs/<asset>.yaml) or a spec file')
    .option('--spec <file>', 'pipeline spec file (JSON or YAML)')
    .option('--no-wait', 'start and return')
    .option('--force', 'recompute every step even if its output for the same inputs exists')
    .action(action(async (asset: string, opts: { spec?: string; wait: boolean; force?: boolean }) => runSpec('RetrainWorkflow', asset, opts)));
  program.command('status').description('state, step and outcome of a run').argument('<workflow-id>')
    .action(action(async (workflowId: string) => withTemporal(async (client, namespace) => {
      const handle = client.workflow.getHandle(workflowId);
      const d = await handle.describe().catch(() => {
        throw new UserError(`no workflow ${workflowId}`);
      });
      log(`${d.type} ${workflowId}: ${d.status.name}, started ${d.startTime.toISOString()}`);
      log(`  started by: ${describeTrigger(d.memo ?? {}, Object.fromEntries(d.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])))}`);
      for (const pair of d.typedSearchAttributes.getAll()) log(`  ${pair.key.name}: ${String(pair.value)}`);
      const memo = d.memo ?? {};
      for (const [k, v] of Object.entries(memo)) log(`  memo ${k}: ${JSON.stringify(v)}`);
      const pipeline = d.type === 'RetrainWorkflow' || d.type === 'PretrainWorkflow';
      if (d.type === 'DataArrivalWorkflow' && d.status.name === 'RUNNING') log(formatDataArrivalState(await handle.query('dataArrivalState')));
      if (pipeline && d.status.name === 'RUNNING') log(`  step: ${(await handle.query<{ step: string }>('progress')).step}`);
      if (pipeline && d.status.name === 'COMPLETED') log(formatOutcome((await handle.result()) as RetrainOutcome, namespace, workflowId, d.runId));
      log(`  ${workflowUrl(namespace, workflowId, d.runId)}`);
    })));
  const models = program.command('models').description('the model registry');
  models.command('list').description('models, their versions and aliases').action(action(async () => withStore(async (store) => {
    const reg = new ModelRegistry(store);
    const names = await reg.listModels();
    if (!names.length) log('no models registered yet');
    for (const name of names) {
      const aliases = await reg.listAliases(name);
      const versions = await reg.listVersions(name);
      log(`${name}: ${versions.length} version(s); ${aliases.map((a) => `${a.alias} -> ${a.version}`).join(', ') || 'no aliases'}`);
      for (const v of versions) log(`  ${v.version}  ${v.createdAt}  ${v.kind}  acc ${v.metrics ? (v.metrics.accuracy * 100).toFixed(2) + ' %' : '-'}  dataset ${v.lineage.datasetVersion.slice(0, 12)}`);
    }
  })));
  models.command('show').description('model card of a version or alias').argument('<model>').argument('[version]', 'version or alias', 'production')
    .action(action(async (model: string, version: string) => withStore(async (store) => {
      log(JSON.stringify(await new ModelRegistry(store).resolve(model, version), null, 2));
    })));
  program.command('rollback').description('point production back to the previous version').argument('<model>')
    .action(action(async (model: string) => withStore(async (store) => {
      const doc = await new ModelRegistry(store).rollback(model, process.env.USER ?? 'pdmctl');
      log(`${model}@production -> ${doc.version} (was ${doc.previous})`);
    })));
  registerScheduleCommands(program, action);
  program.command('codec-server').description('decrypts payloads for the Temporal UI (needs PDM_PAYLOAD_KEY)')
    .option('--port <port>', 'port on 127.0.0.1', '8888')
    .option('--origin <url>', 'the UI origin allowed to call it', `http://127.0.0.1:${loadStackConfig().PDM_TEMPORAL_UI_PORT}`)
    .action(action(async (opts: { port: string; origin: string }) => {
      const codec = codecFromEnv();
      if (!codec) throw new UserError('codec-server: PDM_PAYLOAD_KEY is not set, so payloads are not encrypted');
      const server = createCodecServer(codec, opts.origin);
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(opts.port), '127.0.0.1', resolve));
      log(`codec server on http://127.0.0.1:${opts.port} (allowing ${opts.origin}); set it in the Temporal UI under Settings > Codec Server`);
      await new Promise(() => undefined);
    }));
  program.command('demo').description('up + seed + pretrain + retrain the load-3 asset (what `npm start` runs)').action(action(demo));
  return program;
}

export function main(): void {
  // Node 20 is supported by the SDK versions in the lockfile; the upgrade notice is in the README.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  applyLocalStackEnv();
  buildProgram().parseAsync(process.argv).catch((err: unknown) => {
    console.error(`pdmctl: ${(err as Error).message}`);
    process.exit(1);
  });
}

if (require.main === module) main();
