/**
 * Domain errors. They carry a stable `type` that activities turn into a non-retryable
 * Temporal ApplicationFailure: retrying cannot fix bad input, so the run must fail fast
 * with a message that names the object (or field) and the problem.
 * Anything that is not a PdmError is treated as transient I/O and retried.
 */
export type PdmErrorType =
  | 'InvalidDataset'
  | 'InvalidSpec'
  | 'InvalidLabels'
  | 'IncompatibleBackbone'
  | 'IntegrityError'
  | 'ModelNotFound'
  | 'PromotionConflict';

export class PdmError extends Error {
  constructor(
    readonly type: PdmErrorType,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = type;
  }
}

export class InvalidDatasetError extends PdmError {
  constructor(readonly objectKey: string, problem: string, details: Record<string, unknown> = {}) {
    super('InvalidDataset', `${objectKey}: ${problem}`, { objectKey, ...details });
  }
}

export class InvalidSpecError extends PdmError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('InvalidSpec', message, details);
  }
}

export function isPdmError(err: unknown): err is PdmError {
  return err instanceof PdmError;
}
