import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientEnv, loadStackConfig, startStack, stopStack } from '../infra/stack';
import { findOrBuildTool, TOOLS } from '../infra/tools';

/**
 * `npm test`: finds or builds the Temporal CLI and MinIO, starts both on free ports with a
 * throwaway state directory, runs every test file with node's test runner, and stops what it
 * started. `npm test -- unit` (or workflow, integration) runs one group.
 */
const GROUPS = ['unit', 'workflow', 'integration', 'faults'] as const;
/** Run when no group is named; `faults` is slower and runs on its own (npm run test:faults). */
const DEFAULT_GROUPS = ['unit', 'workflow', 'integration'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function testFiles(group: string): string[] {
  const dir = join(__dirname, group);
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const wanted = process.argv.slice(2).filter((a) => (GROUPS as readonly string[]).includes(a));
  const groups = wanted.length ? wanted : DEFAULT_GROUPS;
  const files = groups.flatMap(testFiles);
  const needsServices = groups.some((g) => g !== 'unit');
  const log = (m: string) => console.log(`[test] ${m}`);
  let env: Record<string, string> = {};
  const stateDir = mkdtempSync(join(tmpdir(), 'pdm-test-'));
  const cfg = loadStackConfig(process.env, {
    PDM_STATE_DIR: stateDir,
    PDM_TEMPORAL_PORT: await freePort(),
    PDM_TEMPORAL_UI_PORT: await freePort(),
    PDM_MINIO_PORT: await freePort(),
    PDM_MINIO_CONSOLE_PORT: await freePort(),
    PDM_RECEIVER_PORT: await freePort(),
    PDM_BUCKET: 'pdm-test',
  });
  // Ctrl-C or a CI timeout must not leave servers behind.
  const onSignal = (sig: NodeJS.Signals) => {
    void stopStack(cfg, log).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (needsServices) {
      const temporal = findOrBuildTool(TOOLS.temporal, cfg.PDM_TOOL_CACHE, log);
      await startStack(cfg, log);
      env = {
        ...clientEnv(cfg),
        PDM_TEMPORAL_BIN: temporal,
        // The fault tests stop and restart these services, so they get the whole stack configuration.
        ...Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k, String(v)])),
      };
    }
    log(`running ${files.length} test files (${groups.join(', ')})`);
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
      stdio: 'inherit',
      env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  } finally {
    if (needsServices) await stopStack(cfg, log);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[test] ${(err as Error).message}`);
    process.exit(1);
  },
);
