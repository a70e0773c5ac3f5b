-- Usage analytics (README, "Usage analytics"): raw events partitioned by month (usage_events, created by hand in
-- its migration), the rollups every usage read is answered from, and the doors the queue job, the cron tasks and
-- platform admins use. The runtime only reads: its write grants on these tables are withdrawn here.

REVOKE INSERT, UPDATE, DELETE ON usage_events, usage_daily, user_activity_daily, user_activity_summary FROM app_runtime;
GRANT SELECT, INSERT ON usage_events TO app_internal;
GRANT SELECT, INSERT, UPDATE, DELETE ON usage_daily, user_activity_daily, user_activity_summary TO app_internal;
DROP POLICY IF EXISTS internal ON usage_events;
CREATE POLICY internal ON usage_events TO app_internal USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS internal ON usage_daily;
CREATE POLICY internal ON usage_daily TO app_internal USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS internal ON user_activity_daily;
CREATE POLICY internal ON user_activity_daily TO app_internal USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS internal ON user_activity_summary;
CREATE POLICY internal ON user_activity_summary TO app_internal USING (true) WITH CHECK (true);

-- The partition holding the month of p_month: usage_events_YYYY_MM.
CREATE OR REPLACE FUNCTION app_usage_partition(p_month date) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'usage_events_' || to_char(p_month, 'YYYY_MM')
$$;

-- Creates the partitions of p_months months from the month of p_at (UTC) that do not exist yet; answers how many
-- it created. Owned by the schema owner (only a table's owner may add partitions to it); partitions carry no grants,
-- so the runtime reaches rows only through the parent, under its RLS.
CREATE OR REPLACE FUNCTION app_usage_ensure_partitions(p_at timestamptz, p_months int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_first date := date_trunc('month', p_at AT TIME ZONE 'UTC')::date;
  v_month date;
  v_created int := 0;
BEGIN
  IF p_months IS NULL OR p_months < 1 OR p_months > 24 THEN
    RAISE EXCEPTION 'between 1 and 24 months' USING ERRCODE = '22023';
  END IF;
  FOR i IN 0 .. p_months - 1 LOOP
    v_month := (v_first + make_interval(months => i))::date;
    CONTINUE WHEN to_regclass(app_usage_partition(v_month)) IS NOT NULL;
    BEGIN
      EXECUTE format('CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)', app_usage_partition(v_month),
        v_month::timestamp AT TIME ZONE 'UTC', (v_month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
      v_created := v_created + 1;
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
      NULL; -- created meanwhile by a concurrent call
    END;
  END LOOP;
  RETURN v_created;
END $$;

-- Drops the partitions of months that ended p_keep_months or more months before the month of p_at (UTC): raw events
-- are kept for the current month and p_keep_months full months before it. Answers the partitions dropped. The
-- runtime role may call it with any arguments, so the database's own clock bounds them: whatever p_at and
-- p_keep_months say, the current month and the 3 full months before it (USAGE_RETENTION_MONTHS' minimum in
-- src/config.ts) are never dropped.
CREATE OR REPLACE FUNCTION app_usage_drop_partitions(p_at timestamptz, p_keep_months int) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_oldest_kept date := least(date_trunc('month', p_at AT TIME ZONE 'UTC') - make_interval(months => p_keep_months),
    date_trunc('month', now() AT TIME ZONE 'UTC') - interval '3 months')::date;
  v_name text;
  v_dropped text[] := '{}';
BEGIN
  IF p_keep_months IS NULL OR p_keep_months < 1 OR p_at IS NULL THEN
    RAISE EXCEPTION 'a time, and at least one month to keep' USING ERRCODE = '22023';
  END IF;
  FOR v_name IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'usage_events'::regclass AND c.relname ~ '^usage_events_\d{4}_\d{2}$'
      AND to_date(substr(c.relname, 14), 'YYYY_MM') < v_oldest_kept
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', v_name);
    v_dropped := v_dropped || v_name;
  END LOOP;
  RETURN v_dropped;
END $$;

-- The queue job's insert (workers/jobs/usage.ts): a batch of events (services/usage.ts, `usageEventSchema`) in one
-- statement, across orgs. A redelivered batch inserts nothing twice (same id and time); events older than p_oldest
-- (past retention) and of orgs that no longer exist are skipped; a missing month's partition is created first.
CREATE OR REPLACE FUNCTION app_usage_record(p_events jsonb, p_oldest timestamptz) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_month timestamptz;
  v_count int;
BEGIN
  FOR v_month IN
    SELECT DISTINCT date_trunc('month', (e->>'at')::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    FROM jsonb_array_elements(p_events) e WHERE (e->>'at')::timestamptz >= p_oldest
  LOOP
    PERFORM app_usage_ensure_partitions(v_month, 1);
  END LOOP;
  INSERT INTO usage_events (id, org_id, created_at, source, name, route_class, status, latency_ms, user_id, api_key_id, properties)
  SELECT e.id, e."orgId", e.at, e.source, e.name, e."routeClass", e.status, e."latencyMs", e."userId", e."apiKeyId", e.properties
  FROM jsonb_to_recordset(p_events) AS e(id uuid, "orgId" uuid, at timestamptz, source text, name text, "routeClass" text, status smallint,
    "latencyMs" int, "userId" uuid, "apiKeyId" uuid, properties jsonb)
  WHERE e.at >= p_oldest AND EXISTS (SELECT 1 FROM organizations o WHERE o.id = e."orgId")
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- Recomputes one UTC day's rollups from its raw events, replacing what the day had (so a re-run changes nothing,
-- and late events are counted by the next run): usage_daily per org, user_activity_daily per user, and the
-- user_activity_summary of every user whose day changed. A day whose partition is gone (past retention) is left as
-- it is, so its rollups outlive its raw events; so is a day after today (the database's clock, UTC), which has no
-- rollup yet. The bytes stored are taken when a day is first rolled up and kept by later runs of a past day, so a
-- re-run (or a hostile call by the runtime role) cannot rewrite an old day's storage with today's. Answers the
-- orgs rolled up, or -1 for a day left alone.
CREATE OR REPLACE FUNCTION app_usage_refresh_day(p_day date) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_from timestamptz := p_day::timestamp AT TIME ZONE 'UTC';
  v_to timestamptz := (p_day + 1)::timestamp AT TIME ZONE 'UTC';
  v_today date := (now() AT TIME ZONE 'UTC')::date;
  v_storage jsonb;
  v_before jsonb;
  v_orgs int;
BEGIN
  IF p_day IS NULL OR p_day > v_today OR to_regclass(app_usage_partition(p_day)) IS NULL THEN
    RETURN -1;
  END IF;
  SELECT coalesce(jsonb_object_agg(d.org_id, d.storage_bytes), '{}'::jsonb) INTO v_storage
  FROM usage_daily d WHERE d.day = p_day AND p_day < v_today AND d.storage_bytes IS NOT NULL;
  DELETE FROM usage_daily WHERE day = p_day;
  WITH day_events AS (
    SELECT e.* FROM usage_events e WHERE e.created_at >= v_from AND e.created_at < v_to
      AND EXISTS (SELECT 1 FROM organizations o WHERE o.id = e.org_id)
  ), statuses AS (
    SELECT org_id, route_class, jsonb_object_agg(status_class, n) AS by_status FROM (
      SELECT org_id, route_class, (status / 100)::text || 'xx' AS status_class, count(*)::int AS n
      FROM day_events WHERE source = 'api' GROUP BY 1, 2, 3) s
    GROUP BY 1, 2
  ), classes AS (
    SELECT org_id, jsonb_object_agg(route_class, by_status) AS by_class FROM statuses GROUP BY org_id
  ), totals AS (
    SELECT org_id,
      count(*) FILTER (WHERE source = 'api')::int AS requests,
      count(*) FILTER (WHERE source = 'api' AND status BETWEEN 400 AND 499)::int AS client_errors,
      count(*) FILTER (WHERE source = 'api' AND status >= 500)::int AS server_errors,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE source = 'api') AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE source = 'api') AS p95,
      count(DISTINCT user_id)::int AS active_users,
      count(*) FILTER (WHERE source = 'product')::int AS product_events
    FROM day_events GROUP BY org_id
  )
  INSERT INTO usage_daily (org_id, day, requests, client_errors, server_errors, requests_by_class, p50_ms, p95_ms, active_users, product_events, storage_bytes, refreshed_at)
  SELECT t.org_id, p_day, t.requests, t.client_errors, t.server_errors, coalesce(c.by_class, '{}'::jsonb), t.p50, t.p95, t.active_users, t.product_events,
    coalesce((v_storage ->> t.org_id::text)::bigint, app_org_storage(t.org_id)), now()
  FROM totals t LEFT JOIN classes c ON c.org_id = t.org_id;
  GET DIAGNOSTICS v_orgs = ROW_COUNT;

  SELECT coalesce(jsonb_agg(jsonb_build_array(d.org_id, d.user_id)), '[]'::jsonb) INTO v_before FROM user_activity_daily d WHERE d.day = p_day;
  DELETE FROM user_activity_daily WHERE day = p_day;
  INSERT INTO user_activity_daily (org_id, user_id, day, actions)
  SELECT e.org_id, e.user_id, p_day, count(*)::int FROM usage_events e
  WHERE e.created_at >= v_from AND e.created_at < v_to AND e.user_id IS NOT NULL
    AND EXISTS (SELECT 1 FROM organizations o WHERE o.id = e.org_id)
  GROUP BY 1, 2;

  WITH pairs AS (
    SELECT (p->>0)::uuid AS org_id, (p->>1)::uuid AS user_id FROM jsonb_array_elements(v_before) p
    UNION SELECT d.org_id, d.user_id FROM user_activity_daily d WHERE d.day = p_day
  ), gone AS (
    DELETE FROM user_activity_summary s USING pairs p
    WHERE s.org_id = p.org_id AND s.user_id = p.user_id
      AND NOT EXISTS (SELECT 1 FROM user_activity_daily d WHERE d.org_id = p.org_id AND d.user_id = p.user_id)
  )
  INSERT INTO user_activity_summary AS s (org_id, user_id, total_actions, active_days, first_active_day, last_active_day)
  SELECT d.org_id, d.user_id, sum(d.actions), count(*)::int, min(d.day), max(d.day)
  FROM user_activity_daily d JOIN pairs p ON p.org_id = d.org_id AND p.user_id = d.user_id
  GROUP BY 1, 2
  ON CONFLICT (org_id, user_id) DO UPDATE SET total_actions = excluded.total_actions, active_days = excluded.active_days,
    first_active_day = excluded.first_active_day, last_active_day = excluded.last_active_day;
  RETURN v_orgs;
END $$;

-- Platform admins: every org's usage over [p_from, p_to] from the daily rollups (never the raw events), the
-- busiest first.
CREATE OR REPLACE FUNCTION platform_usage_summary(p_from date, p_to date, p_limit int)
RETURNS TABLE (org_id uuid, name text, slug text, subscription_tier text, requests bigint, client_errors bigint, server_errors bigint,
  product_events bigint, peak_active_users int, active_days int, storage_bytes bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM platform_require_admin();
  RETURN QUERY
    SELECT o.id, o.name, o.slug, o.subscription_tier::text, sum(d.requests)::bigint, sum(d.client_errors)::bigint, sum(d.server_errors)::bigint,
      sum(d.product_events)::bigint, max(d.active_users), count(*)::int, (array_agg(d.storage_bytes ORDER BY d.day DESC))[1]
    FROM usage_daily d JOIN organizations o ON o.id = d.org_id
    WHERE d.day BETWEEN p_from AND p_to AND o.deleted_at IS NULL
    GROUP BY o.id
    ORDER BY sum(d.requests) DESC, o.id
    LIMIT p_limit;
END $$;

ALTER FUNCTION app_usage_record(jsonb, timestamptz) OWNER TO app_internal;
ALTER FUNCTION app_usage_refresh_day(date) OWNER TO app_internal;
ALTER FUNCTION platform_usage_summary(date, date, int) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION app_usage_ensure_partitions(timestamptz, int), app_usage_drop_partitions(timestamptz, int), app_usage_record(jsonb, timestamptz),
  app_usage_refresh_day(date), platform_usage_summary(date, date, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_usage_ensure_partitions(timestamptz, int) TO app_internal;
GRANT EXECUTE ON FUNCTION app_usage_ensure_partitions(timestamptz, int), app_usage_drop_partitions(timestamptz, int), app_usage_record(jsonb, timestamptz),
  app_usage_refresh_day(date), platform_usage_summary(date, date, int) TO app_runtime;
