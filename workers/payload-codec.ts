import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';

/**
 * Optional end-to-end encryption of Temporal payloads (workflow inputs and results, activity
 * arguments and results, heartbeat details, memos) with AES-256-GCM. The Temporal server and its
 * history then hold ciphertext only; search attributes stay readable because they are indexed.
 * Enabled by PDM_PAYLOAD_KEY (32 bytes, base64); the Temporal UI decrypts through `pdmctl codec-server`.
 */
const ENCODING = 'binary/encrypted';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const KeyEnv = z.object({
  PDM_PAYLOAD_KEY: z
    .string()
    .refine((k) => Buffer.from(k, 'base64').length === 32, 'must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)')
    .optional(),
  /** Stored with each payload so that keys can be rotated. Default "default". */
  PDM_PAYLOAD_KEY_ID: z.string().min(1).default('default'),
});

export class AesGcmCodec implements PayloadCodec {
  constructor(
    private readonly key: Buffer,
    private readonly keyId: string,
  ) {
    if (key.length !== 32) throw new Error('AES-256-GCM needs a 32-byte key');
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(
      payloads.map((p) => {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv(ALGORITHM, this.key, iv);
        const plain = temporal.api.common.v1.Payload.encode(p).finish();
        const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
        return { metadata: { encoding: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(this.keyId) }, data };
      }),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    try {
      return Promise.resolve(payloads.map((p) => this.decodeOne(p)));
    } catch (err) {
      // A wrong key or a tampered payload: reject rather than throw, as callers await a promise.
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private decodeOne(p: Payload): Payload {
    if (Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCODING) return p;
    const keyId = Buffer.from(p.metadata?.['encryption-key-id'] ?? []).toString();
    if (keyId !== this.keyId) throw new Error(`payload encrypted with key "${keyId}", this process has key "${this.keyId}"`);
    const data = Buffer.from(p.data ?? []);
    const decipher = createDecipheriv(ALGORITHM, this.key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

/** The codec configured by the environment, or undefined when payload encryption is off. */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const parsed = KeyEnv.safeParse(env);
  if (!parsed.success) throw new Error(`invalid PDM_PAYLOAD_KEY: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  if (!parsed.data.PDM_PAYLOAD_KEY) return undefined;
  return new AesGcmCodec(Buffer.from(parsed.data.PDM_PAYLOAD_KEY, 'base64'), parsed.data.PDM_PAYLOAD_KEY_ID);
}

export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
