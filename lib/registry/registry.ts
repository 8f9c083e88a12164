import { PdmError } from '../errors';
import type { ModelDigest } from '../model/model-io';
import type { Normalization } from '../data/normalization';
import type { ArchitectureConfig } from '../spec/pipeline-spec';
import { BlobStore, getJson, ObjectNotFoundError, PreconditionFailedError, putJson } from '../storage/blob-store';

/**
 * The model registry lives in S3 next to the data:
 *   registry/<model>/versions/<version>/{model.json, weights.bin, card.json, metrics.json, report.md}
 *   registry/<model>/aliases/<alias>.json
 * card.json is written last and marks a version as complete. Aliases move with conditional writes
 * (If-Match on the alias's ETag, If-None-Match for the first one), so two promotions racing for
 * the same alias can never both win.
 */
export interface ModelCard {
  modelName: string;
  version: string;
  kind: 'backbone' | 'classifier';
  createdAt: string;
  input: { length: number; channels: string[]; sampleRateHz: number; normalization: Normalization };
  classes: string[];
  featureLayer: string;
  architecture: ArchitectureConfig;
  digest: ModelDigest;
  lineage: {
    assetId: string;
    datasetVersion: string;
    backbone: { ref: string; modelName?: string; version?: string; weightsSha256: string } | null;
    codeVersion: string;
    workflowId: string;
    runId: string;
    trainingHash: string;
  };
  metrics?: { accuracy: number; macroF1: number };
}

export interface AliasDoc {
  alias: string;
  version: string;
  /** The version this alias pointed to before the last move, for rollback. */
  previous: string | null;
  updatedAt: string;
  updatedBy: { workflowId: string; runId: string } | { user: string };
}

export const versionPrefix = (model: string, version: string) => `registry/${model}/versions/${version}`;
const aliasKey = (model: string, alias: string) => `registry/${model}/aliases/${alias}.json`;

export class ModelRegistry {
  constructor(private readonly store: BlobStore) {}

  async getCard(model: string, version: string): Promise<ModelCard | null> {
    return (await getJson<ModelCard>(this.store, `${versionPrefix(model, version)}/card.json`))?.value ?? null;
  }

  async getAlias(model: string, alias: string): Promise<{ doc: AliasDoc; etag: string } | null> {
    const got = await getJson<AliasDoc>(this.store, aliasKey(model, alias));
    return got ? { doc: got.value, etag: got.etag } : null;
  }

  /** `version` or an alias name, to a version id. */
  async resolve(model: string, versionOrAlias: string): Promise<ModelCard> {
    const alias = await this.getAlias(model, versionOrAlias);
    const version = alias ? alias.doc.version : versionOrAlias;
    const card = await this.getCard(model, version);
    if (!card) {
      throw new PdmError('ModelNotFound', `registry: model "${model}" has no ${alias ? `version ${version} (alias ${versionOrAlias})` : `version or alias "${versionOrAlias}"`}`);
    }
    return card;
  }

  async listModels(): Promise<string[]> {
    const names = new Set<string>();
    for (const o of await this.store.list('registry/')) {
      const m = /^registry\/([^/]+)\/versions\/[^/]+\/card\.json$/.exec(o.key);
      if (m) names.add(m[1]!);
    }
    return [...names].sort();
  }

  async listVersions(model: string): Promise<ModelCard[]> {
    const keys = (await this.store.list(`registry/${model}/versions/`)).filter((o) => o.key.endsWith('/card.json'));
    const cards = await Promise.all(keys.map(async (o) => (await getJson<ModelCard>(this.store, o.key))!.value));
    return cards.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async listAliases(model: string): Promise<AliasDoc[]> {
    const keys = (await this.store.list(`registry/${model}/aliases/`)).filter((o) => o.key.endsWith('.json'));
    return Promise.all(keys.map(async (o) => (await getJson<AliasDoc>(this.store, o.key))!.value));
  }

  /**
   * Registers a version from model files already in the store. Idempotent: an existing card for the
   * same version is kept (the version id is a hash of the training inputs).
   */
  async registerVersion(
    card: ModelCard,
    files: { modelJsonKey: string; weightsKey: string; extra?: Record<string, string | Uint8Array> },
  ): Promise<{ created: boolean }> {
    const prefix = versionPrefix(card.modelName, card.version);
    if (await this.store.head(`${prefix}/card.json`)) return { created: false };
    const weights = await this.store.get(files.weightsKey);
    await this.store.put(`${prefix}/weights.bin`, weights.body, { contentType: 'application/octet-stream' });
    const modelJson = await this.store.get(files.modelJsonKey);
    await this.store.put(`${prefix}/model.json`, modelJson.body, { contentType: 'application/json' });
    for (const [name, body] of Object.entries(files.extra ?? {})) await this.store.put(`${prefix}/${name}`, body);
    try {
      await putJson(this.store, `${prefix}/card.json`, card, { ifNoneMatch: true });
      return { created: true };
    } catch (err) {
      if (err instanceof PreconditionFailedError) return { created: false };
      throw err;
    }
  }

  /**
   * Moves `alias` to `version` if it still points where the caller last saw it (`expected`: the
   * version seen, or null for "no alias yet"). Throws PromotionConflict when another writer won.
   */
  async moveAlias(
    model: string,
    alias: string,
    version: string,
    expected: string | null,
    updatedBy: AliasDoc['updatedBy'],
  ): Promise<AliasDoc> {
    if (!(await this.getCard(model, version))) throw new PdmError('ModelNotFound', `registry: model "${model}" has no version ${version}`);
    const current = await this.getAlias(model, alias);
    const seen = current?.doc.version ?? null;
    if (seen !== expected) {
      throw new PdmError('PromotionConflict', `registry: alias ${model}@${alias} points to ${seen ?? 'nothing'}, not ${expected ?? 'nothing'} as expected: another promotion won`, { current: seen });
    }
    const doc: AliasDoc = { alias, version, previous: seen, updatedAt: new Date().toISOString(), updatedBy };
    try {
      await putJson(this.store, aliasKey(model, alias), doc, current ? { ifMatch: current.etag } : { ifNoneMatch: true });
    } catch (err) {
      if (err instanceof PreconditionFailedError) {
        throw new PdmError('PromotionConflict', `registry: alias ${model}@${alias} was moved concurrently by another promotion`);
      }
      throw err;
    }
    if (alias === 'production' && seen) {
      // Convenience pointer; the production alias document already records `previous` atomically.
      await putJson(this.store, aliasKey(model, 'previous'), { ...doc, alias: 'previous', version: seen, previous: null });
    }
    return doc;
  }

  /** Points `production` back to the version it replaced. */
  async rollback(model: string, user: string): Promise<AliasDoc> {
    const current = await this.getAlias(model, 'production');
    if (!current) throw new PdmError('ModelNotFound', `registry: model "${model}" has no production alias`);
    if (!current.doc.previous) throw new PdmError('ModelNotFound', `registry: ${model}@production (${current.doc.version}) has no previous version to roll back to`);
    return this.moveAlias(model, 'production', current.doc.previous, current.doc.version, { user });
  }
}

export { ObjectNotFoundError };
