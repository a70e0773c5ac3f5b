import { z } from '@hono/zod-openapi';
import type { usageDaily } from '../../db/schema/index.ts';
import { ApiError } from '../../errors.ts';
import { dayField } from '../../lib/fields.ts';
import { USAGE_LIMITS } from '../../lib/limits.ts';
import { utcDay } from '../../services/usage.ts';

// The usage series of GET /orgs/{orgId}/usage (README, "Usage analytics"): read from the daily rollups only.

const DAY_MS = 86_400_000;

export const orgUsageQuery = z
  .strictObject({
    from: dayField.optional().openapi({ description: 'First day of the series (UTC); default: 29 days before `to`.' }),
    to: dayField.optional().openapi({ description: 'Last day of the series (UTC); default: today.' }),
    granularity: z.enum(['day']).optional().openapi({ description: 'One point per day (the only granularity).' }),
  })
  .openapi({ description: `With any of these the answer carries \`series\`: \`from\` ≤ \`to\`, at most ${USAGE_LIMITS.seriesDays} days.` });

const statusCounts = z.record(z.string(), z.int()).openapi({ description: 'Requests by status class (`2xx`, `4xx`, …).' });

const usagePointSchema = z
  .object({
    day: z.string().openapi({ format: 'date' }),
    requests: z.int().openapi({ description: 'API requests the org admitted (org routes).' }),
    clientErrors: z.int(),
    serverErrors: z.int(),
    requestsByClass: z.record(z.string(), statusCounts).openapi({ description: 'Requests by route class (`x-rate-limit-class`), then status class.' }),
    p50Ms: z.number().nullable().openapi({ description: 'Median latency in the Worker (ms); null without requests.' }),
    p95Ms: z.number().nullable(),
    activeUsers: z.int().openapi({ description: 'Users with a request or a product event that day.' }),
    productEvents: z.int(),
    storageBytes: z.int().nullable().openapi({ description: 'Bytes stored when the day was last rolled up; null for a day without events.' }),
  })
  .openapi('UsagePoint');

export const usageSeriesSchema = z
  .object({ granularity: z.literal('day'), from: z.string().openapi({ format: 'date' }), to: z.string().openapi({ format: 'date' }), points: z.array(usagePointSchema) })
  .openapi('UsageSeries', { description: 'One point per day from `from` to `to`; days without events are zeros.' });

/** The series' days asked for, or undefined when none of the parameters is given. Throws a 400 for a bad range. */
export function seriesRange(query: z.infer<typeof orgUsageQuery>, now: number): { from: string; to: string; days: number } | undefined {
  if (query.from === undefined && query.to === undefined && query.granularity === undefined) return undefined;
  const to = query.to ?? utcDay(now);
  // The default start never falls before year 1 (Postgres has no year 0).
  const from = query.from ?? (to < '0001-01-30' ? '0001-01-01' : utcDay(Date.parse(to), -29));
  const days = Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS) + 1;
  if (days < 1 || days > USAGE_LIMITS.seriesDays) {
    const message = days < 1 ? '`from` must not be after `to`' : `at most ${USAGE_LIMITS.seriesDays} days`;
    throw new ApiError('VALIDATION_FAILED', 'Request validation failed.', { issues: [{ path: 'query.from', code: 'invalid_range', message }] });
  }
  return { from, to, days };
}

/** The rollup rows → one point per day of the range (zeros where a day has none). */
export function toUsageSeries(range: { from: string; to: string; days: number }, rows: ReadonlyArray<typeof usageDaily.$inferSelect>): z.infer<typeof usageSeriesSchema> {
  const byDay = new Map(rows.map((row) => [row.day, row]));
  const start = Date.parse(range.from);
  const points = Array.from({ length: range.days }, (_, index) => {
    const day = utcDay(start, index);
    const row = byDay.get(day);
    return {
      day,
      requests: row?.requests ?? 0,
      clientErrors: row?.clientErrors ?? 0,
      serverErrors: row?.serverErrors ?? 0,
      requestsByClass: row?.requestsByClass ?? {},
      p50Ms: row?.p50Ms ?? null,
      p95Ms: row?.p95Ms ?? null,
      activeUsers: row?.activeUsers ?? 0,
      productEvents: row?.productEvents ?? 0,
      storageBytes: row?.storageBytes ?? null,
    };
  });
  return { granularity: 'day', from: range.from, to: range.to, points };
}
