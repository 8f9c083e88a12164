import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Finds the Temporal CLI and the MinIO server: on PATH, else in the tool cache, else built from
 * source with `go install` (both are Go programs; Go's module proxy is reachable where release
 * downloads may not be). Builds are cached, so only the first run pays for them.
 */
export interface ToolSpec {
  name: 'temporal' | 'minio';
  module: string;
  /** Oldest Go that builds the pinned version. */
  minGo: [number, number];
}

export const TOOLS: Record<ToolSpec['name'], ToolSpec> = {
  // Later CLI tags carry a `replace` directive and cannot be `go install`ed.
  temporal: { name: 'temporal', module: 'github.com/temporalio/cli/cmd/temporal@v1.5.1', minGo: [1, 24] },
  // MinIO is distributed as source only and its repository is archived: pin an exact pseudo-version.
  minio: { name: 'minio', module: 'github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c', minGo: [1, 24] },
};

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string, pathEnv = process.env.PATH ?? ''): string | null {
  for (const dir of pathEnv.split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

function goVersion(): [number, number] | null {
  const go = onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (!go) return null;
  try {
    const out = execFileSync(go, ['env', 'GOVERSION']).toString().trim();
    const m = /^go(\d+)\.(\d+)/.exec(out);
    return m ? [Number(m[1]), Number(m[2])] : null;
  } catch {
    return null;
  }
}

export class MissingToolError extends Error {}

export function findOrBuildTool(spec: ToolSpec, cacheDir: string, log: (msg: string) => void): string {
  const found = onPath(spec.name);
  if (found) return found;
  const binDir = join(cacheDir, 'bin');
  const cached = join(binDir, spec.name);
  if (isExecutable(cached)) return cached;

  const go = goVersion();
  const [maj, min] = spec.minGo;
  if (!go || go[0] < maj || (go[0] === maj && go[1] < min)) {
    throw new MissingToolError(
      `${spec.name} not found and Go >= ${maj}.${min} ${go ? `is too old (found ${go.join('.')})` : 'not found'}: install Go, or put \`${spec.name}\` on PATH`,
    );
  }
  mkdirSync(binDir, { recursive: true });
  log(`building ${spec.name} from source (go install ${spec.module}); first run only, takes a few minutes...`);
  const goBin = onPath('go') ?? '/usr/local/go/bin/go';
  const res = spawnSync(goBin, ['install', spec.module], {
    env: { ...process.env, GOBIN: binDir, GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim() },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (res.status !== 0 || !isExecutable(cached)) {
    throw new MissingToolError(`go install ${spec.module} failed (exit ${res.status}); see the output above`);
  }
  return cached;
}
