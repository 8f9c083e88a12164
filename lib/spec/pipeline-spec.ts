import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { InvalidSpecError } from '../errors';

/**
 * Ids end up inside S3 keys and Temporal ids, so they are restricted to a safe alphabet:
 * no slashes, no dots at the start, nothing that could walk out of a prefix.
 */
export const SafeId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 chars of a-z, 0-9, "_" or "-", starting with a letter or digit');

const S3Prefix = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((part) => part === '..' || part === '.'), {
    message: 'must be a relative key prefix without "." or ".." segments',
  });

const ModelRef = z
  .string()
  .regex(/^(registry:[a-z0-9][a-z0-9_-]{0,62}(@[a-z0-9][a-z0-9_-]{0,62})?|s3:\/\/.+|file:\/\/.+)$/, 'must be registry:<model>[@alias|version], s3://... or file://...');

export const ChannelSpec = z.object({
  /** Column name in the recording files. */
  name: z.string().min(1),
  unit: z.string().optional(),
});

export const ArchitectureSpec = z
  .object({
    /** Filters of each conv block; the first block uses the wide kernel. Default: WDCNN-like [16, 32, 64, 64]. */
    filters: z.array(z.number().int().positive()).min(1).default([16, 32, 64, 64]),
    /** Wide first kernel (samples) and its stride act as a learned band-pass front end. Default 64 / 8. */
    firstKernel: z.number().int().positive().default(64),
    firstStride: z.number().int().positive().default(8),
    /** Kernel of the stacked small conv blocks. Default 3. */
    kernel: z.number().int().positive().default(3),
  })
  .default({ filters: [16, 32, 64, 64], firstKernel: 64, firstStride: 8, kernel: 3 });

export const TrainingSpec = z.object({
  /** Max epochs of the frozen-backbone (head only) phase. Default 5. Ignored when training from scratch. */
  headEpochs: z.number().int().min(0).default(5),
  /** Max epochs with the backbone unfrozen (or from scratch). Default 15. */
  epochs: z.number().int().min(1).default(15),
  /** Learning rate of the head phase / from-scratch training. Default 1e-3 (Adam). */
  learningRate: z.number().positive().default(1e-3),
  /**
   * Rate once the backbone is trainable ("full", and the second phase of "two-phase"). Default 1e-3: measured
   * (bench:transfer, k = 10) 1e-4 was too slow to converge within the epoch budget on both targets.
   */
  unfreezeLearningRate: z.number().positive().default(1e-3),
  batchSize: z.number().int().positive().default(64),
  /** Early stopping: epochs without validation-loss improvement before stopping (best weights restored). Default 3. */
  patience: z.number().int().min(1).default(3),
  /** Weight classes inversely to their training frequency. Default true. */
  classWeights: z.boolean().default(true),
  /** Cap of training windows per class (few-label setting); 0 = all. Default 0. */
  maxTrainWindowsPerClass: z.number().int().min(0).default(0),
  seed: z.number().int().default(42),
  /**
   * How a backbone is fine-tuned (ignored when training from scratch):
   *  - "two-phase": `headEpochs` on the frozen backbone at `learningRate`, then `epochs` with the top
   *    `unfreezeBlocks` conv blocks (0 = all) trainable at `unfreezeLearningRate`;
   *  - "linear-probe": `epochs` at `learningRate`, backbone frozen (only the new head learns);
   *  - "full": `epochs` at `unfreezeLearningRate`, every layer trainable from the start.
   * Default "full" (measured best across both bench:transfer targets; see README "Fine-tuning strategies").
   */
  strategy: z.enum(['two-phase', 'linear-probe', 'full']).default('full'),
  /** Conv blocks (counted from the top) unfrozen in the second phase of "two-phase"; 0 = all. Default 0. */
  unfreezeBlocks: z.number().int().min(0).default(0),
  /**
   * Few-label training: an epoch repeats the (small) training set until it has seen at least this many
   * windows, so that k-shot epochs are real optimisation steps (with augmentation every repeat is a new view).
   * 0 = one pass. Default 512.
   */
  minWindowsPerEpoch: z.number().int().min(0).default(512),
  /**
   * Fine-tuning only: before training, re-estimate the backbone's BatchNorm statistics on the target's training
   * windows (AdaBN), so evaluation does not use the pretraining domain's statistics. Default true.
   */
  adaptBatchNorm: z.boolean().default(true),
  /** Training-set augmentation, drawn afresh for every epoch from `seed` (never applied to validation/test). */
  augment: z
    .object({
      /** Random circular shift of each window by up to this fraction of its length (0 = off). Default 0.5. */
      shift: z.number().min(0).max(1).default(0.5),
      /** Std of added gaussian noise, in units of the normalized signal (0 = off). Default 0.05. */
      noiseStd: z.number().min(0).default(0.05),
      /** Amplitude scaling by a factor drawn uniformly from [1 - scale, 1 + scale] per window (0 = off). Default 0.1. */
      scale: z.number().min(0).max(1).default(0.1),
    })
    .default({ shift: 0.5, noiseStd: 0.05, scale: 0.1 }),
});

export const GateSpec = z.object({
  /** Absolute floor for the challenger's test accuracy. Default 0.9. */
  minAccuracy: z.number().min(0).max(1).default(0.9),
  /** Absolute floor for the challenger's macro-F1. Default 0. */
  minMacroF1: z.number().min(0).max(1).default(0),
  /** Challenger may be at most this much less accurate than the champion. Default 0.005. */
  maxRegression: z.number().min(0).max(1).default(0.005),
  /** Recall floor for every class. Default 0. */
  minClassRecall: z.number().min(0).max(1).default(0),
});

export type DurationString = `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/** A Temporal duration string ("90s", "5m", "2h", "1d") or milliseconds. */
export const DurationText = z
  .union([z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'must be a duration like "90s", "5m", "2h" or "1d"'), z.number().int().min(0)])
  .transform((v): DurationString => (typeof v === 'number' ? `${v}ms` : (v.replace(/\s+/g, '') as DurationString)));

export const OverlapPolicyName = z.enum(['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all']);

export const TriggerSpec = z
  .object({
    /** Retraining when new recordings land under source.prefixes (bucket notifications or the polling sensor). */
    dataArrival: z
      .object({
        /** Whether new data starts a retrain at all. Default true. */
        enabled: z.boolean().default(true),
        /** Retrain once no new object has arrived for this long. Default "5m". */
        quietPeriod: DurationText.default('5m'),
        /** Retrain at once when this many new objects are pending (0 = off). Default 0. */
        minNewObjects: z.number().int().min(0).default(0),
        /** Retrain at once when this many new bytes are pending (0 = off). Default 0. */
        minNewBytes: z.number().int().min(0).default(0),
        /** Upper bound on waiting after the first new object, even if uploads never go quiet. Default "1h". */
        maxWait: DurationText.default('1h'),
      })
      .default({ enabled: true, quietPeriod: '5m', minNewObjects: 0, minNewBytes: 0, maxWait: '1h' }),
    /** The polling sensor, for S3 setups without bucket notifications (`pdmctl schedule create <asset> --kind poll`). */
    poll: z
      .object({
        /** How often the prefix is listed. Default "5m". */
        every: DurationText.default('5m'),
        /** Objects modified up to this long before the watermark are re-checked (late-finishing uploads). Default "15m". */
        lookback: DurationText.default('15m'),
      })
      .default({ every: '5m', lookback: '15m' }),
    /** Defaults of `pdmctl schedule create <asset>`; command-line flags override them. */
    schedule: z
      .object({
        /** Interval ("24h"); used when cron is not set. Default "24h". */
        every: DurationText.optional(),
        /** Cron expression(s), e.g. "0 3 * * *"; wins over every. */
        cron: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
        /** Random delay added to each run, to spread many assets. Default "0s" (none). */
        jitter: DurationText.optional(),
        /** IANA time zone of cron expressions. Default "UTC". */
        timeZone: z.string().min(1).optional(),
        /** What to do when a run is due while the previous one is still going. Default "skip". */
        overlap: OverlapPolicyName.optional(),
        /** Missed runs (server down) older than this are not made up. Default "1h". */
        catchupWindow: DurationText.optional(),
        /** Pause the schedule after a failed run. Default false. */
        pauseOnFailure: z.boolean().optional(),
      })
      .optional(),
  })
  .default({
    dataArrival: { enabled: true, quietPeriod: '5m', minNewObjects: 0, minNewBytes: 0, maxWait: '1h' },
    poll: { every: '5m', lookback: '15m' },
  });

const LabelSource = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('ranges'),
    /** Key (in the source bucket) of an Arrow table with asset_id, start, end, label columns. */
    key: S3Prefix,
    /** asset_id to select in the label table; defaults to the spec's assetId. */
    assetId: z.string().min(1).optional(),
  }),
  z.object({
    kind: z.literal('metadata'),
    /** Schema-metadata key of each recording that holds its label. Default "label". */
    key: z.string().min(1).default('label'),
  }),
]);

export const PipelineSpecSchema = z
  .object({
    assetId: SafeId,
    /** Registry name of the model this pipeline trains. Default: the assetId. */
    modelName: SafeId.optional(),
    source: z.object({
      /** Default: the bucket configured for the workers (PDM_BUCKET). */
      bucket: z.string().min(3).optional(),
      prefixes: z.array(S3Prefix).min(1),
    }),
    channels: z.array(ChannelSpec).min(1),
    /** Sample rate of the recordings (checked against every file at ingest). */
    sampleRateHz: z.number().positive(),
    /**
     * Resampling in preprocess to the model's rate (a backbone's input spec), e.g. 20000 -> 12000 Hz:
     * rational polyphase resampling with a Kaiser-windowed sinc anti-alias low-pass (lib/data/resample.ts).
     * Omitted: windows keep sampleRateHz.
     */
    resample: z.object({ toHz: z.number().positive() }).optional(),
    /**
     * Model input channels, each fed from a channel of `channels` by name, or "zero" for a zero-filled
     * input, e.g. [accel, accel] feeds a one-accelerometer machine to a two-channel backbone.
     * Omitted: the model inputs are `channels` in order.
     */
    channelMap: z.array(z.string().min(1)).min(1).optional(),
    window: z.object({
      length: z.number().int().min(16).max(65536),
      hop: z.number().int().positive(),
    }),
    classes: z.array(z.string().min(1)).min(2),
    labels: LabelSource,
    split: z
      .object({
        /** Fraction of each recording's time span (in order: train, validation, test). Default 0.7 / 0.15 / 0.15. */
        train: z.number().gt(0).lt(1).default(0.7),
        validation: z.number().gt(0).lt(1).default(0.15),
      })
      .default({ train: 0.7, validation: 0.15 }),
    /** Backbone to fine-tune. Omitted for pretraining (trained from scratch). */
    backbone: ModelRef.optional(),
    architecture: ArchitectureSpec,
    training: TrainingSpec.default(TrainingSpec.parse({})),
    gates: GateSpec.default(GateSpec.parse({})),
    limits: z
      .object({
        /** Largest recording object accepted, in bytes. Default 512 MiB. */
        maxObjectBytes: z.number().int().positive().default(512 * 1024 * 1024),
        /** Fraction of non-finite samples tolerated per channel before a recording is rejected. Default 0. */
        maxNonFiniteFraction: z.number().min(0).max(1).default(0),
        /**
         * What ingest does with an invalid recording: "fail" the run (default), or "skip" it, list it
         * in the dataset manifest and the run's result, and go on with the valid ones.
         */
        onInvalidRecording: z.enum(['fail', 'skip']).default('fail'),
      })
      .default({ maxObjectBytes: 512 * 1024 * 1024, maxNonFiniteFraction: 0, onInvalidRecording: 'fail' }),
    /** Schedules, data-arrival and polling triggers of this asset (all optional, defaults documented above). */
    trigger: TriggerSpec,
  })
  .superRefine((spec, ctx) => {
    if (spec.split.train + spec.split.validation >= 1) {
      ctx.addIssue({ code: 'custom', path: ['split'], message: 'train + validation must leave a test share (< 1)' });
    }
    if (new Set(spec.classes).size !== spec.classes.length) {
      ctx.addIssue({ code: 'custom', path: ['classes'], message: 'class names must be unique' });
    }
    for (const [i, from] of (spec.channelMap ?? []).entries()) {
      if (from !== 'zero' && !spec.channels.some((c) => c.name === from)) {
        ctx.addIssue({ code: 'custom', path: ['channelMap', i], message: `"${from}" is neither one of the channels nor "zero"` });
      }
    }
    if (spec.channelMap && spec.channelMap.every((c) => c === 'zero')) {
      ctx.addIssue({ code: 'custom', path: ['channelMap'], message: 'at least one model input must come from a recorded channel' });
    }
    if (spec.window.hop > spec.window.length * 4) {
      ctx.addIssue({ code: 'custom', path: ['window', 'hop'], message: 'hop larger than 4 window lengths wastes most of the data' });
    }
  });

export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;
export type PipelineSpec = z.output<typeof PipelineSpecSchema>;
export type ArchitectureConfig = z.output<typeof ArchitectureSpec>;
export type TrainingConfig = z.output<typeof TrainingSpec>;
export type GateConfig = z.output<typeof GateSpec>;
export type TriggerConfig = z.output<typeof TriggerSpec>;

export function formatZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Validates an already-parsed spec object; `origin` names where it came from in the error. */
export function parsePipelineSpec(value: unknown, origin = 'pipeline spec'): PipelineSpec {
  const result = PipelineSpecSchema.safeParse(value);
  if (!result.success) {
    throw new InvalidSpecError(`${origin}: ${formatZodError(result.error)}`, { origin });
  }
  return result.data;
}

/** Parses JSON or YAML text (YAML is a superset of JSON). */
export function parsePipelineSpecText(text: string, origin = 'pipeline spec'): PipelineSpec {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new InvalidSpecError(`${origin}: not valid JSON or YAML (${(err as Error).message})`, { origin });
  }
  return parsePipelineSpec(value, origin);
}

export function modelNameOf(spec: PipelineSpec): string {
  return spec.modelName ?? spec.assetId;
}
