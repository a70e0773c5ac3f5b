import { and, eq, gte, ilike, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { projects } from '../db/schema/index.ts';
import type { Actor } from '../db/tenant.ts';
import { escapeLike, exactTimestamp, keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';

// Builders for the projects routes: un-executed queries, composed behind the gate in one batch. A live
// project is one not deleted.
const live = (projectId: string) => and(eq(projects.id, projectId), isNull(projects.deletedAt));

/** The live project `projectId`. */
export function selectProject(db: HttpDatabase, projectId: string) {
  return db.select().from(projects).where(live(projectId));
}

/** Creates a project in `orgId`; returns the row. */
export function insertProject(db: HttpDatabase, orgId: string, fields: { name: string; description?: string | null }) {
  return db
    .insert(projects)
    .values({ orgId, name: fields.name, description: fields.description ?? null })
    .returning();
}

/**
 * PATCH and PUT of a live project; returns the row after the change. Fields left undefined are kept
 * (drizzle skips them); `null` clears the description. `updated_at` moves only when a value really
 * changes, so a no-op write is invisible (and unaudited).
 */
export function updateProjectFields(db: HttpDatabase, projectId: string, fields: { name?: string; description?: string | null }) {
  const nextName = fields.name === undefined ? sql`${projects.name}` : sql`${fields.name}::text`;
  const nextDescription = fields.description === undefined ? sql`${projects.description}` : sql`${fields.description}::text`;
  const changed = sql`(${projects.name}, ${projects.description}) is distinct from (${nextName}, ${nextDescription})`;
  return db
    .update(projects)
    .set({ name: fields.name, description: fields.description, updatedAt: sql`case when ${changed} then now() else ${projects.updatedAt} end` })
    .where(live(projectId))
    .returning();
}

/** Soft-deletes a live project; returns its id if it was live. */
export function softDeleteProject(db: HttpDatabase, projectId: string) {
  return db.update(projects).set({ deletedAt: sql`now()`, updatedAt: sql`now()` }).where(live(projectId)).returning({ id: projects.id });
}

/** A sort of the project list: its keyset key, and the key's first part as text, for the cursor. */
interface ProjectOrder {
  key: KeyPart[];
  keyText: SQL<string>;
}

const byCreatedAt = (direction: 'asc' | 'desc'): ProjectOrder => ({
  key: [
    { expression: projects.createdAt, direction },
    { expression: projects.id, direction },
  ],
  keyText: exactTimestamp(projects.createdAt),
});

const lowerName = sql<string>`lower(${projects.name})`;
const byName = (direction: 'asc' | 'desc'): ProjectOrder => ({
  key: [
    { expression: lowerName, direction },
    { expression: projects.id, direction },
  ],
  keyText: lowerName,
});

/** The sorts the project list offers, by their query name. */
export const projectOrders = {
  createdAt: byCreatedAt('asc'),
  '-createdAt': byCreatedAt('desc'),
  name: byName('asc'),
  '-name': byName('desc'),
} satisfies Record<string, ProjectOrder>;

export type ProjectOrderName = keyof typeof projectOrders;

/** What narrows the project list; dates are ISO dates or date-times (`createdAfter` inclusive, `createdBefore` exclusive). */
export interface ProjectFilter {
  orgId: string;
  /** Case-insensitive substring of the name; `%` and `_` match literally. */
  q?: string;
  createdAfter?: string;
  createdBefore?: string;
}

/**
 * A page of the org's live projects in `page.sort` order (`limit + 1` rows: see takePage), each with its
 * key text for the cursor; `page.after` is the key `[keyText, id]` of the previous page's last row. A key
 * limited to one project sees only that project, even in lists.
 */
export function selectProjectPage(db: HttpDatabase, actor: Actor, filter: ProjectFilter, page: PageRequest & { sort: ProjectOrderName }) {
  const { key, keyText } = projectOrders[page.sort];
  const { orgId, q, createdAfter, createdBefore } = filter;
  return db
    .select({ project: projects, keyText })
    .from(projects)
    .where(
      and(
        // RLS already limits rows to the org; saying so lets the planner use the (org_id, …) indexes.
        eq(projects.orgId, orgId),
        isNull(projects.deletedAt),
        actor.type === 'api_key' && actor.projectId ? eq(projects.id, actor.projectId) : undefined,
        q ? ilike(projects.name, `%${escapeLike(q)}%`) : undefined,
        createdAfter ? gte(projects.createdAt, new Date(createdAfter)) : undefined,
        createdBefore ? lt(projects.createdAt, new Date(createdBefore)) : undefined,
        page.after ? keysetAfter(key, page.after) : undefined,
      ),
    )
    .orderBy(...keysetOrderBy(key))
    .limit(page.limit + 1);
}
