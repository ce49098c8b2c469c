#!/usr/bin/env node
// `npx ledgerctl` from a clone: runs the TypeScript CLI through tsx (a dependency of the
// project), so it works after `npm install` without a build.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)) });
await import('../src/main.ts');
