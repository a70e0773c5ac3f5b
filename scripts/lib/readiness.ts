import { z } from 'zod';

// /api/health/ready's body (src/routes/health/health.routes.ts); a check's cause is logged, not answered.
const readinessBody = z.object({
  data: z.object({ checks: z.record(z.string(), z.object({ status: z.string(), error: z.string().optional() })) }),
});

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Waits for `<url>/api/health/ready` to answer 200 and returns undefined then; after `timeoutMs` without a 200,
 * returns what it said last: the status and the failing checks, or why it did not answer.
 */
export async function waitForReady(url: string, { timeoutMs = 15_000, intervalMs = 500 }: WaitOptions = {}): Promise<string | undefined> {
  let last = 'nothing';
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    const response = await fetch(`${url}/api/health/ready`, { signal: AbortSignal.timeout(5_000) }).catch((error: unknown) => String(error));
    if (typeof response === 'string') last = response;
    else if (response.ok) return undefined;
    else last = `${response.status}: ${failingChecks(await response.text())}`;
    await new Promise((resolveWait) => setTimeout(resolveWait, intervalMs));
  }
  return last;
}

/** The checks of a readiness body that are not ok, as `name (error or status)`; else the body's start. */
export function failingChecks(body: string): string {
  let parsed: z.infer<typeof readinessBody> | undefined;
  try {
    parsed = readinessBody.safeParse(JSON.parse(body)).data;
  } catch {
    parsed = undefined;
  }
  const failing = Object.entries(parsed?.data.checks ?? {}).filter(([, check]) => check.status !== 'ok');
  return failing.map(([name, check]) => `${name} (${check.error ?? check.status})`).join(', ') || body.slice(0, 300);
}

/** What `npm run dev` prints for `waitForReady`'s answer: `Ready: <url>` only when it was a 200. */
export function readinessMessage(url: string, answer: string | undefined): string {
  if (answer === undefined) return `Ready: ${url}  (health: ${url}/api/health/ready, docs: ${url}/api/docs)`;
  return `Started, but NOT ready: ${url}/api/health/ready answers ${answer} (causes: the "readiness check failed" lines above)`;
}
