// npm run db:reset — deletes the local data (.data/: PostgreSQL cluster and wrangler's local state).
// The next `npm run dev` starts from empty, migrates and seeds again.
import { rmSync } from 'node:fs';
import { ROOT } from './lib/platform.ts';

rmSync(`${ROOT}/.data`, { recursive: true, force: true });
console.log('local data removed (.data/)');
