// Run by wrangler before every dev, build and deploy ([build] in wrangler.toml): puts the pinned API reference
// UI from node_modules into the static assets folder (public/, not committed).
import { copyDocsAssets } from './lib/docs-assets.ts';

try {
  copyDocsAssets();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
