import { z } from '@hono/zod-openapi';
import { instantField, lineField, orgParams, pathId, textField } from '../../lib/fields.ts';
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

export const projectParams = orgParams.extend({ projectId: pathId('projectId') });

const name = lineField(100).openapi({ example: 'Website' });
const description = textField(2000).nullable().openapi({ example: 'The marketing site.' });

export const createProjectBody = z.strictObject({ name, description: description.optional() }).openapi('CreateProject');

/** PUT replaces every writable field: `description: null` clears it. */
export const replaceProjectBody = z.strictObject({ name, description }).openapi('ReplaceProject');

/** PATCH: fields left out are kept; `{}` changes nothing (and writes no audit entry). */
export const updateProjectBody = z.strictObject({ name: name.optional(), description: description.optional() }).openapi('UpdateProject');

export const PROJECT_SORTS = ['createdAt', '-createdAt', 'name', '-name'] as const;
export type ProjectSort = (typeof PROJECT_SORTS)[number];

export const listProjectsQuery = paginationQuery.extend({
  q: lineField(100)
    .optional()
    .openapi({ param: { name: 'q', in: 'query' }, description: 'Case-insensitive substring of the name; `%` and `_` match literally.' }),
  createdAfter: instantField
    .optional()
    .openapi({ param: { name: 'createdAfter', in: 'query' }, description: 'ISO date or date-time, years 0001–9999 (UTC); inclusive.', example: '2025-01-01' }),
  createdBefore: instantField
    .optional()
    .openapi({ param: { name: 'createdBefore', in: 'query' }, description: 'ISO date or date-time, years 0001–9999 (UTC); exclusive.', example: '2025-02-01T00:00:00Z' }),
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
