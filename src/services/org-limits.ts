import type { Context } from 'hono';

/**
 * Called once after a platform admin changed an org's tier or limit overrides (the change has committed).
 * The edge authority (lead) hooks here: it must drop or refresh whatever it holds of the org's limits, so
 * the new figures apply from the next request. A no-op until then.
 */
export async function orgLimitsChanged(_c: Context, _orgId: string): Promise<void> {}
