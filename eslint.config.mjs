// Lint rules that encode the architecture: workflows/ must stay deterministic, so it may
// import activity *types* and Temporal's workflow SDK only, never I/O, tfjs or Arrow.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', '**/*.js', '**/*.mjs', '**/*.py'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'workflows/ must be deterministic: no Node built-ins (do I/O in an activity).',
          })),
          patterns: [
            { group: ['@aws-sdk/*'], message: 'workflows/ must not touch S3: use an activity.' },
            { group: ['@tensorflow/*'], message: 'workflows/ must not run tfjs: use an activity.' },
            { group: ['apache-arrow', 'apache-arrow/*'], message: 'workflows/ must not read Arrow: use an activity.' },
            {
              group: ['../activities/*', '../activities', '../lib/*', '../lib/**'],
              message: 'workflows/ may import activity and domain *types* only (use `import type`).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
