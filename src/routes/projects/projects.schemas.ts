import { z } from '@hono/zod-openapi';

/** The public shape of a project; internal columns (deleted_at) are not part of it. */
export const projectSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('Project');

export const orgParams = z.object({ orgId: z.uuid().openapi({ param: { name: 'orgId', in: 'path' } }) });
export const projectParams = orgParams.extend({ projectId: z.uuid().openapi({ param: { name: 'projectId', in: 'path' } }) });

type ProjectRow = { id: string; orgId: string; name: string; description: string | null; createdAt: Date; updatedAt: Date };

/** Row → response: an explicit pick, so a new column never leaks by accident. */
export function toProject(row: ProjectRow): z.infer<typeof projectSchema> {
  return { id: row.id, orgId: row.orgId, name: row.name, description: row.description, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}
