import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forwardDevOutput } from '../../scripts/lib/dev-output.ts';
import { mapBundleFrames } from '../../scripts/lib/dev-stacks.ts';

async function forward(input: string): Promise<{ json: string; other: string }> {
  const source = new PassThrough();
  const json = new PassThrough();
  const other = new PassThrough();
  const out = { json: '', other: '' };
  json.on('data', (chunk: Buffer) => (out.json += chunk.toString()));
  other.on('data', (chunk: Buffer) => (out.other += chunk.toString()));
  forwardDevOutput(source, json, other);
  source.end(input);
  await new Promise((resolve) => source.on('end', resolve));
  return out;
}

describe('npm run dev output', () => {
  it("unwraps the Worker's warnings and errors from wrangler's coloured banners into plain JSON lines", async () => {
    const warn = '{"level":"warn","message":"database unavailable"}';
    const error = '{"level":"error","message":"boom"}';
    const { json, other } = await forward(
      `\u001b[33m▲ \u001b[43;33m[\u001b[43;30mWARNING\u001b[43;33m]\u001b[0m \u001b[1m${warn}\u001b[0m\n\n` +
        `\u001b[31m✘ \u001b[41;31m[\u001b[41;97mERROR\u001b[41;31m]\u001b[0m \u001b[1m${error}\u001b[0m\n\n` +
        '{"level":"info","message":"request"}\n⎔ Starting local server...\n\u001b[2m[wrangler:info] GET /api/health/live 200 OK (3ms)\u001b[0m\n',
    );
    expect(json.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: string })).toEqual([
      { level: 'warn', message: 'database unavailable' },
      { level: 'error', message: 'boom' },
      { level: 'info', message: 'request' },
    ]);
    expect(other).toBe('⎔ Starting local server...\n');
  });

  it('keeps a line split across chunks whole', async () => {
    const source = new PassThrough();
    const json = new PassThrough();
    let text = '';
    json.on('data', (chunk: Buffer) => (text += chunk.toString()));
    forwardDevOutput(source, json, new PassThrough());
    source.write('{"level":"info",');
    source.end('"message":"request"}\n');
    await new Promise((resolve) => source.on('end', resolve));
    expect(text).toBe('{"level":"info","message":"request"}\n');
  });

  it("prints wrangler's bindings table once, and again only when it changes", async () => {
    const table = (kv: string) =>
      'Your Worker has access to the following bindings:\n' +
      'Binding                          Resource         Mode\n' +
      `\u001b[2menv.CACHE (${kv})\u001b[0m          KV Namespace     local\n` +
      'env.JOBS (edge-saas-jobs)        Queue            local\n';
    const { other } = await forward(
      `${table('1')}⎔ Starting local server...\n⎔ Connection status updated\n${table('1')}[wrangler:info] Ready on http://127.0.0.1:8787\n${table('2')}`,
    );
    expect(other.match(/following bindings/g)).toHaveLength(2);
    expect(other).toBe(`${table('1')}⎔ Starting local server...\n⎔ Connection status updated\n[wrangler:info] Ready on http://127.0.0.1:8787\n${table('2')}`);
  });

  it("maps the stack frames of wrangler's dev bundle in a JSON line to src/ lines, with the bundle's source map", async () => {
    const root = mkdtempSync(join(tmpdir(), 'edge-saas-stacks-'));
    try {
      const bundle = join(root, '.wrangler/tmp/dev-AbC123/index.js');
      mkdirSync(join(root, '.wrangler/tmp/dev-AbC123'), { recursive: true });
      // Bundle line 1 comes from src/a.ts line 1; bundle line 2 from src/services/b.ts line 3 (VLQ: source +1, line +2).
      writeFileSync(`${bundle}.map`, JSON.stringify({ version: 3, sources: ['../../../src/a.ts', '../../../src/services/b.ts'], names: [], mappings: 'AAAA;ACEA' }));
      const line = JSON.stringify({ level: 'error', message: 'unhandled error', error: { stack: `Error: boom\n    at logIn (file://${bundle}:2:15)\n    at file://${bundle}:1:3\n    at elsewhere (file:///x/y.js:1:1)` } });
      expect(mapBundleFrames(line, root)).toBe(line.replace(`file://${bundle}:2:15`, 'src/services/b.ts:3:1').replace(`file://${bundle}:1:3`, 'src/a.ts:1:1'));
      const { json } = await forward(`${line}\n`);
      expect(json).toContain('src/services/b.ts:3:1');
      expect(json).not.toContain('.wrangler/tmp');
      // No map (yet, or any more): the frame stays as it was.
      rmSync(`${bundle}.map`);
      const other = line.replaceAll('dev-AbC123', 'dev-Gone99');
      expect(mapBundleFrames(other, root)).toBe(other);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
