import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { io } from '@tensorflow/tfjs';
import { PdmError } from '../errors';
import { sha256Hex } from '../hash';
import type { BlobStore } from '../storage/blob-store';
import type { LayersModel, Tf } from './tf-types';

/** sha256 of the two files of a TF.js LayersModel, recorded in the model card and checked on load. */
export interface ModelDigest {
  modelJsonSha256: string;
  weightsSha256: string;
}

export interface StoredModel {
  modelJsonKey: string;
  weightsKey: string;
  digest: ModelDigest;
  bytes: number;
}

/** Serializes a model into model.json + weights.bin (one shard), as tfjs's own file format. */
export async function serializeModel(tf: Tf, model: LayersModel): Promise<{ modelJson: string; weights: Uint8Array }> {
  let captured: io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler((artifacts) => {
      captured = artifacts;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' as const } });
    }),
  );
  const a = captured!;
  const weights = new Uint8Array(a.weightData as ArrayBuffer);
  const modelJson = JSON.stringify({
    format: 'layers-model',
    generatedBy: a.generatedBy,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  });
  return { modelJson, weights };
}

export async function saveModelToStore(tf: Tf, model: LayersModel, store: BlobStore, prefix: string): Promise<StoredModel> {
  const { modelJson, weights } = await serializeModel(tf, model);
  const weightsKey = `${prefix}/weights.bin`;
  const modelJsonKey = `${prefix}/model.json`;
  // Weights first, model.json last: a reader that finds model.json finds complete weights.
  await store.put(weightsKey, weights, { contentType: 'application/octet-stream' });
  await store.put(modelJsonKey, modelJson, { contentType: 'application/json' });
  return {
    modelJsonKey,
    weightsKey,
    digest: { modelJsonSha256: sha256Hex(modelJson), weightsSha256: sha256Hex(weights) },
    bytes: modelJson.length + weights.byteLength,
  };
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: io.WeightsManifestEntry[] }[];
}

/** Where a model's files live: an S3 prefix (through the store) or a local directory. */
export type ModelLocation = { kind: 'store'; store: BlobStore; prefix: string } | { kind: 'file'; dir: string };

export function modelLocationFromUri(uri: string, storeFor: (bucket: string) => BlobStore): ModelLocation {
  if (uri.startsWith('file://')) {
    const path = fileURLToPath(uri);
    return { kind: 'file', dir: path.endsWith('model.json') ? join(path, '..') : path };
  }
  const m = /^s3:\/\/([^/]+)\/(.+?)(\/model\.json)?\/?$/.exec(uri);
  if (!m) throw new PdmError('InvalidSpec', `not a model URI: ${uri} (expected s3://bucket/prefix or file:///dir)`);
  return { kind: 'store', store: storeFor(m[1]!), prefix: m[2]! };
}

async function readFileFrom(loc: ModelLocation, name: string): Promise<Uint8Array> {
  if (loc.kind === 'file') return new Uint8Array(await readFile(join(loc.dir, name)));
  return (await loc.store.get(`${loc.prefix}/${name}`)).body;
}

export function describeLocation(loc: ModelLocation): string {
  return loc.kind === 'file' ? `file://${loc.dir}` : `s3://${loc.store.bucket}/${loc.prefix}`;
}

/** Loads a LayersModel and verifies its digest when one is expected (registry versions always have one). */
export async function loadModelFrom(
  tf: Tf,
  loc: ModelLocation,
  expected?: ModelDigest,
): Promise<{ model: LayersModel; digest: ModelDigest }> {
  const where = describeLocation(loc);
  const modelJsonBytes = await readFileFrom(loc, 'model.json');
  let parsed: ModelJson;
  try {
    parsed = JSON.parse(Buffer.from(modelJsonBytes).toString('utf8')) as ModelJson;
  } catch {
    throw new PdmError('IntegrityError', `${where}/model.json is not JSON`);
  }
  if (!parsed.modelTopology || !Array.isArray(parsed.weightsManifest)) {
    throw new PdmError('IntegrityError', `${where}/model.json is not a TF.js LayersModel (no modelTopology/weightsManifest)`);
  }
  const paths = parsed.weightsManifest.flatMap((g) => g.paths);
  const parts = await Promise.all(paths.map((p) => readFileFrom(loc, p)));
  const weights = Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
  const digest: ModelDigest = { modelJsonSha256: sha256Hex(modelJsonBytes), weightsSha256: sha256Hex(weights) };
  if (expected && (expected.modelJsonSha256 !== digest.modelJsonSha256 || expected.weightsSha256 !== digest.weightsSha256)) {
    throw new PdmError('IntegrityError', `${where}: sha256 mismatch (model card says ${expected.weightsSha256.slice(0, 12)}…, files are ${digest.weightsSha256.slice(0, 12)}…)`);
  }
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: parsed.modelTopology,
      weightSpecs: parsed.weightsManifest.flatMap((g) => g.weights),
      weightData,
    }),
  );
  return { model, digest };
}
