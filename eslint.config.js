import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.data/', 'libs/client/src/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../../../*', '**/libs/*/src/*', '**/apps/*/src/*'],
              message: 'import across projects through @ledger/* aliases',
            },
          ],
        },
      ],
    },
  },
  {
    // Secrets, digests and signatures are compared in constant time (crypto.timingSafeEqual), never with ==.
    files: ['apps/ledger-api/src/auth/**/*.ts', 'apps/ledger-api/src/webhooks/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...[
          'BinaryExpression[operator=/^[!=]==?$/] > Identifier[name=/(digest|signature|secret|expected)s?$/i]',
          'BinaryExpression[operator=/^[!=]==?$/] > CallExpression > MemberExpression.callee > Identifier.object[name=/(digest|signature|secret|expected)$/i]',
        ].map((selector) => ({
          selector,
          message: 'compare secrets, digests and signatures with crypto.timingSafeEqual, not ==',
        })),
      ],
    },
  },
);
