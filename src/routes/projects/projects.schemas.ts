import { z } from '@hono/zod-openapi';
import { paginationQuery } from '../../lib/pagination.ts';

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

// Postgres text cannot hold NUL, so refuse it here rather than fail in the database.
const noNul = (text: string) => !text.includes('\u0000');
const name = z.string().trim().min(1).max(100).refine(noNul, 'must not contain NUL').openapi({ example: 'Website' });
const description = z.string().max(2000).refine(noNul, 'must not contain NUL').nullable().openapi({ example: 'The marketing site.' });

export const createProjectBody = z.object({ name, description: description.optional() }).openapi('CreateProject');

/** PUT replaces every writable field: `description: null` clears it. */
export const replaceProjectBody = z.object({ name, description }).openapi('ReplaceProject');

/** PATCH: fields left out are kept; `{}` changes nothing (and writes no audit entry). */
export const updateProjectBody = z.object({ name: name.optional(), description: description.optional() }).openapi('UpdateProject');

export const PROJECT_SORTS = ['createdAt', '-createdAt', 'name', '-name'] as const;
export type ProjectSort = (typeof PROJECT_SORTS)[number];

const isoDate = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);

export const listProjectsQuery = paginationQuery.extend({
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine(noNul, 'must not contain NUL')
    .optional()
    .openapi({ param: { name: 'q', in: 'query' }, description: 'Case-insensitive substring of the name; `%` and `_` match literally.' }),
  createdAfter: isoDate
    .optional()
    .openapi({ param: { name: 'createdAfter', in: 'query' }, description: 'ISO date or date-time; inclusive.', example: '2025-01-01' }),
  createdBefore: isoDate
    .optional()
    .openapi({ param: { name: 'createdBefore', in: 'query' }, description: 'ISO date or date-time; exclusive.', example: '2025-02-01T00:00:00Z' }),
  sort: z
    .enum(PROJECT_SORTS)
    .default('-createdAt')
    .openapi({ param: { name: 'sort', in: 'query' }, description: '`-` for descending. `name` sorts case-insensitively. Ties are broken by id.' }),
});

type ProjectRow = { id: string; orgId: string; name: string; description: string | null; createdAt: Date; updatedAt: Date };

/** Row → response: an explicit pick, so a new column never leaks by accident. */
export function toProject(row: ProjectRow): z.infer<typeof projectSchema> {
  return { id: row.id, orgId: row.orgId, name: row.name, description: row.description, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}
