// Lint: typescript-eslint's recommended rules (no type information needed, so it stays fast) plus the
// house rules from STYLE.md: no `any`, no non-null `!`, `import type` for types.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['src/worker-configuration.d.ts', '**/node_modules/', '.wrangler/', '.data/', 'dist/'],
  },
  {
    files: ['{src,durable-objects,workers,scripts,test}/**/*.ts'],
    extends: [tseslint.configs.recommended],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      // `_name` marks a deliberately unused binding, e.g. a field omitted with a rest destructuring.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The Worker imports `zod` only: wrangler.toml's [alias] bundles it as our entry point without zod's locales, and
    // vitest.config.ts repeats that alias for exactly `zod`, so a `zod/…` subpath would pass the tests yet bundle
    // differently (or not at all). src/lib/zod-entry/ is the one place that reaches into zod's files.
    files: ['{src,durable-objects,workers}/**/*.ts'],
    ignores: ['src/lib/zod-entry/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^zod/', message: 'Import `zod` (see wrangler.toml [alias]).' }] }],
    },
  },
);
