import type { BlobStore } from '../lib/storage/blob-store';
import type { Tf } from '../lib/model/tf-types';

/** What activities need from the outside world; only workers/ build these. */
export interface StorageDeps {
  /** The artifact bucket: datasets, checkpoints, models, registry. */
  store: BlobStore;
  /** A store for another bucket (a spec may read recordings from its own bucket). */
  storeFor(bucket: string): BlobStore;
}

/** Per-call options every cached step accepts. */
export interface StepOptions {
  /** Recompute even if an output for the same inputs exists (it is overwritten). */
  force?: boolean;
}

export interface ModelDeps extends StorageDeps {
  tf: Tf;
  /** Recorded in model cards' lineage (package version + git commit). */
  codeVersion: string;
}
