import type { Readable, Writable } from 'node:stream';

// wrangler prints a Worker's console.warn/error through its own logger: a "▲ [WARNING]" / "✘ [ERROR]"
// banner in ANSI colours around our JSON line, which breaks `npm run dev | jq`.
const ANSI = /\u001b\[[0-9;]*m/g;
const BANNER = /^\s*(?:▲ \[WARNING\]|✘ \[ERROR\])\s*/;
// wrangler's access line repeats what the Worker's own request line says.
const ACCESS_LINE = /^\[wrangler:info\] [A-Z]+ \/\S* \d{3} /;

/**
 * Copies wrangler's output line by line: a line holding one of the Worker's JSON log lines goes to `json`
 * as that JSON alone (no banner, no colour); blank lines and wrangler's access lines are dropped; anything else
 * (wrangler's own messages) goes to `other` unchanged.
 */
export function forwardDevOutput(source: Readable, json: Writable, other: Writable): void {
  let buffered = '';
  source.setEncoding('utf8');
  source.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) forwardLine(line, json, other);
  });
  source.on('end', () => {
    if (buffered) forwardLine(buffered, json, other);
  });
}

function forwardLine(line: string, json: Writable, other: Writable): void {
  const plain = line.replace(ANSI, '').replace(BANNER, '').trim();
  if (plain.startsWith('{"level":')) json.write(`${plain}\n`);
  else if (plain !== '' && !ACCESS_LINE.test(plain)) other.write(`${line}\n`);
}
