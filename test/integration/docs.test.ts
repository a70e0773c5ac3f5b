import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DOCS_UI_PATH, OPENAPI_PATH } from '../../src/routes/docs/index.ts';

describe('GET /api/docs', () => {
  it('is a page that loads only same-origin resources: its script from the Worker, no inline script', async () => {
    const response = await SELF.fetch('http://example.com/api/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toMatch(/https?:|\*/);
    const html = await response.text();
    expect(html).toContain(`<script src="${DOCS_UI_PATH}"></script>`);
    expect(html).toContain(OPENAPI_PATH);
    // Every other <script> is a non-executed configuration element.
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((match) => match[1]);
    expect(scripts.filter((attributes) => !attributes?.includes(`src="${DOCS_UI_PATH}"`)).every((attributes) => attributes?.includes('type="application/json"'))).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
  });
});
