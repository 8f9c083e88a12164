import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { getJson, putJson } from '../lib/storage/blob-store';
import type { PipelineSpec } from '../lib/spec/pipeline-spec';
import type { ObjectRef } from '../lib/triggers/events';
import { objectIdentity } from '../lib/triggers/events';
import { signalDataArrival } from '../lib/triggers/signal';
import type { PollResult } from '../workflows/data-arrival';
import { msToNumber } from '@temporalio/common/lib/time';
import type { StorageDeps } from './deps';

/**
 * The polling sensor's activity: lists an asset's source prefixes, picks the objects modified
 * since the stored watermark (minus a look-back, for uploads whose Last-Modified predates their
 * completion) that were not seen before, signals them to the asset's DataArrivalWorkflow, then
 * advances the watermark. A crash between signal and save re-signals the same objects, which the
 * workflow counts once.
 */
const PollState = z.object({
  version: z.literal(1),
  /** Newest Last-Modified seen (ISO). */
  watermark: z.string(),
  /** Identities (key#etag) of objects modified within the look-back before the watermark. */
  seen: z.array(z.string()),
  updatedAt: z.string(),
});
type PollState = z.infer<typeof PollState>;

export const pollStateKey = (assetId: string) => `triggers/poll/${assetId}.json`;

export function createTriggerActivities(deps: StorageDeps) {
  return {
    async pollPrefix(spec: PipelineSpec): Promise<PollResult> {
      const bucket = spec.source.bucket ?? deps.store.bucket;
      const source = deps.storeFor(bucket);
      const listed: ObjectRef[] = [];
      for (const prefix of spec.source.prefixes) {
        for (const o of await source.list(prefix)) listed.push({ bucket, key: o.key, etag: o.etag, size: o.size, at: o.lastModified });
        Context.current().heartbeat(listed.length);
      }
      const stateKey = pollStateKey(spec.assetId);
      const stored = await getJson<unknown>(deps.store, stateKey);
      const parsed = stored ? PollState.safeParse(stored.value) : null;
      const state: PollState | null = parsed?.success ? parsed.data : null;
      const lookbackMs = msToNumber(spec.trigger.poll.lookback);
      const time = (o: ObjectRef) => (o.at ? Date.parse(o.at) : Number.POSITIVE_INFINITY);

      let fresh: ObjectRef[] = [];
      if (state) {
        const since = Date.parse(state.watermark) - lookbackMs;
        const seen = new Set(state.seen);
        fresh = listed.filter((o) => time(o) >= since && !seen.has(objectIdentity(o)));
      }
      const newest = listed.reduce((m, o) => (o.at && o.at > m ? o.at : m), state?.watermark ?? '');
      const watermark = newest || new Date().toISOString();
      const keepFrom = Date.parse(watermark) - lookbackMs;
      const next: PollState = {
        version: 1,
        watermark,
        seen: listed.filter((o) => time(o) >= keepFrom).map(objectIdentity),
        updatedAt: new Date().toISOString(),
      };
      if (fresh.length > 0) await signalDataArrival(Context.current().client, spec, fresh, 'poll');
      await putJson(deps.store, stateKey, next);
      Context.current().log.info('poll: listed prefix', { assetId: spec.assetId, listed: listed.length, new: fresh.length, watermark, baseline: !state });
      return {
        assetId: spec.assetId,
        listed: listed.length,
        newObjects: fresh.length,
        newKeys: fresh.slice(0, 100).map((o) => o.key),
        watermark,
        baseline: !state,
      };
    },
  };
}
