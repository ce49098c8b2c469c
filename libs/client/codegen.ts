import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createClient } from '@hey-api/openapi-ts';

/** Where the generated client lives: `npm run client:generate` writes it, a test checks it is current. */
export const GENERATED_DIR = new URL('./src/generated/', import.meta.url).pathname;

/**
 * Generates the typed client from an OpenAPI document (the one the service serves at
 * /docs-json) with @hey-api/openapi-ts: types, SDK functions and the fetch client.
 */
export async function generateClient(document: object, outputDir: string): Promise<void> {
  await createClient({
    input: structuredClone(document) as never,
    output: { path: outputDir, clean: true, importFileExtension: '.js' },
    plugins: ['@hey-api/typescript', '@hey-api/sdk', '@hey-api/client-fetch'],
    logs: { level: 'silent' },
  });
}

/** Every generated file by its path under the folder, with its text. */
export async function readGenerated(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path, 'utf8'));
  }
  return files;
}

/** Generates into a fresh temporary folder and reads it back (the folder is removed). */
export async function generatedFiles(document: object): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-client-'));
  try {
    await generateClient(document, dir);
    return await readGenerated(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
