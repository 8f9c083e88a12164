export * from './ingest';
export * from './preprocess';
export * from './model';
export * from './training';
export * from './validation';
export * from './registry';
export type { StorageDeps, ModelDeps, StepOptions } from './deps';
