// Lint rules for the sidebar's TypeScript: eslint's and typescript-eslint's recommended sets, with the type
// information of tsconfig.json; formatting is prettier's (eslint-config-prettier turns off what it decides).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/', 'node_modules/', '.yarn/', 'src/api-types.ts', '*.config.mjs'] },
  {
    files: ['src/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true }],
      eqeqeq: ['error', 'smart'],
      curly: ['error', 'all']
    }
  },
  prettier
);
