import type { RouteHandler } from '@hono/zod-openapi';
import { callerFlagContext, evaluateAllFlags } from '../../middleware/flags.ts';
import { requestMeta } from '../../middleware/request-meta.ts';
import { publishFlags } from '../../services/flags-edge.ts';
import { createFlag, deleteFlag, flagNotFound, selectFlag, selectFlags, updateFlag, type FlagWrite } from '../../services/flags.ts';
import type { createFlag as createRoute, deleteFlag as deleteRoute, evaluateFlags, getFlag, listFlags, updateFlag as updateRoute } from './flags.routes.ts';
import { toFlag } from './flags.schemas.ts';

// Admin changes commit in Postgres (with their platform audit entry), then write the edge copy before they
// answer, so the admin's next read anywhere sees at most KV's lag. Reads by everyone else use that copy.

export const evaluateFlagsHandler: RouteHandler<typeof evaluateFlags> = async (c) => {
  return c.json({ data: await evaluateAllFlags(c, callerFlagContext(c)) }, 200);
};

export const listFlagsHandler: RouteHandler<typeof listFlags> = async (c) => {
  const [rows] = await c.var.platform.batch((db) => [selectFlags(db)]);
  return c.json({ data: rows.map(toFlag) }, 200);
};

export const getFlagHandler: RouteHandler<typeof getFlag> = async (c) => {
  const { key } = c.req.valid('param');
  const [[row]] = await c.var.platform.batch((db) => [selectFlag(db, key)]);
  if (!row) throw flagNotFound(key);
  return c.json({ data: toFlag(row) }, 200);
};

/** Writes the edge copy after a committed change (a KV failure is logged and left to the cron resync). */
async function publish(env: Env, write: FlagWrite): Promise<void> {
  if (write.all) await publishFlags(env.FLAGS, write.all);
}

export const createFlagHandler: RouteHandler<typeof createRoute> = async (c) => {
  const write = await createFlag(c.var.platform, requestMeta(c), c.req.valid('json'));
  await publish(c.env, write);
  if (!write.flag) throw new Error('created flag missing');
  c.header('Location', `/api/v1/admin/flags/${write.flag.key}`);
  return c.json({ data: toFlag(write.flag) }, 201);
};

export const updateFlagHandler: RouteHandler<typeof updateRoute> = async (c) => {
  const { key } = c.req.valid('param');
  const write = await updateFlag(c.var.platform, requestMeta(c), key, c.req.valid('json'));
  await publish(c.env, write);
  if (!write.flag) throw flagNotFound(key);
  return c.json({ data: toFlag(write.flag) }, 200);
};

export const deleteFlagHandler: RouteHandler<typeof deleteRoute> = async (c) => {
  await publish(c.env, await deleteFlag(c.var.platform, requestMeta(c), c.req.valid('param').key));
  return c.body(null, 204);
};
