import { ApplicationFailure } from '@temporalio/common';
import { isPdmError } from '../lib/errors';

/**
 * Domain errors become non-retryable ApplicationFailures (type = the error's type, message names
 * the object and problem); anything else propagates as a plain error and is retried.
 */
export function toFailure(err: unknown): unknown {
  if (isPdmError(err)) {
    return ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: true, details: [err.details], cause: undefined });
  }
  return err;
}

export async function typedFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}
