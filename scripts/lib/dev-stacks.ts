import { readFileSync, statSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// A frame of wrangler's dev bundle, as workerd writes it in a stack: file:///…/.wrangler/tmp/dev-XXXX/index.js:L:C.
// wrangler source-maps what it prints itself, not the stacks inside the Worker's own JSON log lines.
const BUNDLE_FRAME = /file:\/\/(\/[^\s"'()]*?\/\.wrangler\/tmp\/[^/\s"'()]+\/[^/\s"'()]+\.js):(\d+):(\d+)/g;

// One per bundle file; wrangler writes a new folder on each rebuild, so an entry is checked against its mtime.
const maps = new Map<string, { mtimeMs: number; map: SourceMap | undefined }>();

/** The source map wrangler wrote beside `bundle` (`<bundle>.map`), or undefined when there is none (yet). */
function sourceMapOf(bundle: string): SourceMap | undefined {
  try {
    const { mtimeMs } = statSync(`${bundle}.map`);
    const cached = maps.get(bundle);
    if (cached?.mtimeMs === mtimeMs) return cached.map;
    const map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    maps.set(bundle, { mtimeMs, map });
    return map;
  } catch {
    return undefined;
  }
}

/**
 * Rewrites every frame of the dev bundle in `text` (a JSON log line: its stacks) to the source line it came
 * from, relative to `base` (`src/services/accounts.ts:144:21`). A frame without a map or a mapping stays as it is.
 */
export function mapBundleFrames(text: string, base = process.cwd()): string {
  if (!text.includes('/.wrangler/tmp/')) return text;
  return text.replace(BUNDLE_FRAME, (frame, bundle: string, line: string, column: string) => {
    const entry = sourceMapOf(bundle)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry)) return frame;
    const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(dirname(bundle), entry.originalSource);
    return `${relative(base, source)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}
