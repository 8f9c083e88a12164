import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so that equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Content address of a step's inputs: the step name is part of it so that two steps never collide. */
export function stepHash(step: string, inputs: unknown): string {
  return sha256Hex(`${step}\n${canonicalJson(inputs)}`);
}
