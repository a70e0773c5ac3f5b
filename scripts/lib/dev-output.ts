import type { Readable, Writable } from 'node:stream';
import { mapBundleFrames } from './dev-stacks.ts';

// wrangler prints a Worker's console.warn/error through its own logger: a "▲ [WARNING]" / "✘ [ERROR]"
// banner in ANSI colours around our JSON line, which breaks `npm run -s dev | jq`.
const ANSI = /\u001b\[[0-9;]*m/g;
const BANNER = /^\s*(?:▲ \[WARNING\]|✘ \[ERROR\])\s*/;
// wrangler's access line repeats what the Worker's own request line says.
const ACCESS_LINE = /^\[wrangler:info\] [A-Z]+ \/\S* \d{3} /;

// wrangler prints its bindings table again whenever its dev registry (every `wrangler dev` on this machine)
// changes: once more when this Worker registers, and whenever any other local Worker starts or stops.
const TABLE_TITLE = /has access to the following bindings:$/;
const TABLE_ROW = /^(?:Binding\s+Resource\s+Mode|env\.\S+)/;

/**
 * Copies wrangler's output line by line: a line holding one of the Worker's JSON log lines goes to `json`
 * as that JSON alone (no banner, no colour; stack frames mapped to src/); blank lines and wrangler's access lines are dropped; the bindings
 * table only when it differs from the one printed last; anything else (wrangler's own messages) goes to
 * `other` unchanged.
 */
export function forwardDevOutput(source: Readable, json: Writable, other: Writable): void {
  let buffered = '';
  let table: string[] | undefined;
  let lastTable = '';
  const endTable = () => {
    const text = (table ?? []).join('\n');
    table = undefined;
    if (text === lastTable) return;
    lastTable = text;
    other.write(`${text}\n`);
  };
  const forward = (line: string) => {
    const plain = line.replace(ANSI, '').trim();
    if (table && TABLE_ROW.test(plain)) return void table.push(line);
    if (table) endTable();
    if (TABLE_TITLE.test(plain)) table = [line];
    else forwardLine(line, json, other);
  };
  source.setEncoding('utf8');
  source.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) forward(line);
  });
  source.on('end', () => {
    if (buffered) forward(buffered);
    if (table) endTable();
  });
}

function forwardLine(line: string, json: Writable, other: Writable): void {
  const plain = line.replace(ANSI, '').replace(BANNER, '').trim();
  // Its stacks name src/ lines, not lines of wrangler's bundle.
  if (plain.startsWith('{"level":')) json.write(`${mapBundleFrames(plain)}\n`);
  else if (plain !== '' && !ACCESS_LINE.test(plain)) other.write(`${line}\n`);
}
