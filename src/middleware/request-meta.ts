import type { Context } from 'hono';
import type { RequestMeta } from '../db/tenant.ts';
import type { AppEnv } from '../env.ts';

/** What the audit log records about the request (for the gate's context, and for public work such as log-in). */
export function requestMeta<E extends AppEnv>(c: Context<E>): RequestMeta {
  return {
    requestId: c.var.requestId,
    ip: c.req.header('cf-connecting-ip') ?? null,
    userAgent: c.req.header('user-agent')?.slice(0, 512) ?? null,
  };
}
