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
);
