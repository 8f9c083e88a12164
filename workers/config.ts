import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { formatZodError } from '../lib/spec/pipeline-spec';

/**
 * Worker configuration from the environment, validated at start. Temporal's connection comes from
 * envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, temporal.toml) and S3's
 * from the AWS SDK's standard chain (AWS_ENDPOINT_URL_S3, AWS_REGION, profiles, IAM roles).
 */
const EnvSchema = z.object({
  /** Bucket for datasets, checkpoints, models and the registry. Default "pdm". */
  PDM_BUCKET: z.string().min(3).default('pdm'),
  /** Path-style S3 URLs (needed by MinIO and most S3-compatible stores). Default: on when AWS_ENDPOINT_URL_S3 is set. */
  PDM_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).optional(),
  /** Overrides the code version recorded in model cards (default: package version + git commit). */
  PDM_CODE_VERSION: z.string().optional(),
  AWS_ENDPOINT_URL_S3: z.string().url().optional(),
  AWS_REGION: z.string().default('us-east-1'),
});
export type WorkerEnv = z.infer<typeof EnvSchema>;

export function loadWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid worker environment: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

export const REPO_ROOT = join(__dirname, '..', '..');

export function codeVersion(env: WorkerEnv): string {
  if (env.PDM_CODE_VERSION) return env.PDM_CODE_VERSION;
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return `${pkg.version}+${sha}${dirty ? '.dirty' : ''}`;
  } catch {
    return pkg.version;
  }
}
