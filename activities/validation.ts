import { Context } from '@temporalio/activity';
import { loadSplit } from '../lib/dataset/load-split';
import { STEP_VERSIONS } from '../lib/dataset/manifests';
import { stepHash } from '../lib/hash';
import { evaluateModel } from '../lib/model/evaluate';
import type { ClassificationMetrics } from '../lib/model/metrics';
import { loadModelFrom, modelLocationFromUri } from '../lib/model/model-io';
import { ModelRegistry, versionPrefix } from '../lib/registry/registry';
import { applyGates, GateResult } from '../lib/report/gates';
import { renderReport } from '../lib/report/markdown';
import { getJson, putJson, s3Uri } from '../lib/storage/blob-store';
import { modelNameOf, parsePipelineSpec, PipelineSpecInput } from '../lib/spec/pipeline-spec';
import type { ModelDeps, StepOptions } from './deps';
import { typedFailures } from './failures';
import { loadDatasetManifest } from './model';
import type { TrainResult } from './training';

export interface MetricsSummary {
  accuracy: number;
  macroF1: number;
}

export interface ValidationResult {
  passed: boolean;
  gates: GateResult;
  challenger: MetricsSummary;
  /** The production model at validation time; promotion only succeeds if it is still the same. */
  champion: (MetricsSummary & { version: string }) | null;
  championNote: string | null;
  /** What `production` pointed to when validation ran: promotion moves it only if it still does. */
  productionVersion: string | null;
  metricsKey: string;
  reportKey: string;
  reportUri: string;
  reused: boolean;
}

interface StoredMetrics {
  datasetVersion: string;
  challenger: ClassificationMetrics;
  champion: (ClassificationMetrics & { version: string }) | null;
  result: ValidationResult;
}

export function createValidationActivities(deps: ModelDeps) {
  const registry = new ModelRegistry(deps.store);
  return {
    /** Scores challenger and champion on the same held-out test split and applies the spec's gates. */
    async validate(
      specInput: PipelineSpecInput,
      datasetVersion: string,
      trained: Pick<TrainResult, 'trainingHash' | 'modelUri' | 'digest' | 'history'>,
      opts: StepOptions = {},
    ): Promise<ValidationResult> {
      return typedFailures(async () => {
        const spec = parsePipelineSpec(specInput);
        const ctx = Context.current();
        const { tf } = deps;
        const modelName = modelNameOf(spec);
        const dataset = await loadDatasetManifest(deps, datasetVersion);
        const production = await registry.getAlias(modelName, 'production');
        const championCard = production ? await registry.getCard(modelName, production.doc.version) : null;

        const hash = stepHash('validate', {
          v: STEP_VERSIONS.validate,
          datasetVersion,
          challenger: trained.digest,
          champion: championCard?.version ?? null,
          gates: spec.gates,
        });
        const metricsKey = `artifacts/validation/${hash}/metrics.json`;
        const reportKey = `artifacts/validation/${hash}/report.md`;
        const existing = opts.force ? null : await getJson<StoredMetrics>(deps.store, metricsKey);
        if (existing) return { ...existing.value.result, reused: true };

        const test = await loadSplit(deps.store, dataset, 'test');
        ctx.heartbeat({ step: 'validate', model: 'challenger' });
        const challengerModel = (await loadModelFrom(tf, modelLocationFromUri(trained.modelUri, (b) => deps.storeFor(b)), trained.digest)).model;
        const challenger = await evaluateModel(tf, challengerModel, test, dataset.normalization, dataset.classes).finally(() => challengerModel.dispose());

        let champion: StoredMetrics['champion'] = null;
        let championNote: string | null = production ? null : 'No production model yet: the challenger is judged by the absolute gates only.';
        if (championCard) {
          const sameClasses = championCard.classes.join('\n') === dataset.classes.join('\n');
          const sameInput = championCard.input.length === dataset.inputShape.length && championCard.input.channels.length === dataset.inputShape.channels;
          if (!sameClasses || !sameInput) {
            championNote = `Champion ${championCard.version} is not comparable (different classes or input shape); judged by the absolute gates only.`;
          } else {
            ctx.heartbeat({ step: 'validate', model: 'champion' });
            const uri = s3Uri(deps.store.bucket, versionPrefix(modelName, championCard.version));
            const championModel = (await loadModelFrom(tf, modelLocationFromUri(uri, (b) => deps.storeFor(b)), championCard.digest)).model;
            const m = await evaluateModel(tf, championModel, test, championCard.input.normalization, dataset.classes).finally(() => championModel.dispose());
            champion = { ...m, version: championCard.version };
          }
        }

        const gates = applyGates(spec.gates, challenger, champion);
        const report = renderReport({
          title: `Validation of ${modelName} challenger ${trained.trainingHash.slice(0, 16)}`,
          datasetVersion,
          challenger: { label: trained.trainingHash.slice(0, 16), metrics: challenger },
          champion: champion ? { label: champion.version, metrics: champion } : null,
          championNote: championNote ?? undefined,
          gates,
          history: trained.history,
          classes: dataset.classes,
        });
        const result: ValidationResult = {
          passed: gates.passed,
          gates,
          challenger: { accuracy: challenger.accuracy, macroF1: challenger.macroF1 },
          champion: champion ? { version: champion.version, accuracy: champion.accuracy, macroF1: champion.macroF1 } : null,
          championNote,
          productionVersion: production?.doc.version ?? null,
          metricsKey,
          reportKey,
          reportUri: s3Uri(deps.store.bucket, reportKey),
          reused: false,
        };
        await deps.store.put(reportKey, report, { contentType: 'text/markdown; charset=utf-8' });
        await putJson(deps.store, metricsKey, { datasetVersion, challenger, champion, result } satisfies StoredMetrics);
        ctx.log.info('validate: done', { passed: gates.passed, accuracy: challenger.accuracy, champion: champion?.accuracy });
        return result;
      });
    },
  };
}

export type ValidationActivities = ReturnType<typeof createValidationActivities>;
