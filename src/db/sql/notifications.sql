-- Notifications (src/services/notifications.ts): user-scoped tables and the two cross-tenant questions the daily
-- cron tasks ask. The tables are not tenant tables: their owner is a user, so the wall is app_user_id(), set by
-- the user gate (app_enter_user) for the routes and by the delivery job for the one recipient it writes for.

GRANT SELECT, INSERT, UPDATE, DELETE ON notifications, notification_preferences TO app_runtime;
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS owner ON notifications;
CREATE POLICY owner ON notifications USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
ALTER TABLE notification_preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_preferences FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS owner ON notification_preferences;
CREATE POLICY owner ON notification_preferences USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());

-- The cron questions below skip what was already notified: they read (never write) notifications.
GRANT SELECT ON notifications TO app_internal;
DROP POLICY IF EXISTS internal ON notifications;
CREATE POLICY internal ON notifications FOR SELECT TO app_internal USING (true);

-- Live API keys expiring in (p_from, p_until] whose creator is still a member of the key's live org and has not
-- been told yet (dedupe key `api_key.expiring:<key id>`), soonest first.
CREATE OR REPLACE FUNCTION app_api_keys_expiring(p_from timestamptz, p_until timestamptz, p_limit int)
RETURNS TABLE (key_id uuid, org_id uuid, name text, expires_at timestamptz, user_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT k.id, k.org_id, k.name, k.expires_at, k.created_by
  FROM api_keys k
  JOIN organizations o ON o.id = k.org_id AND o.deleted_at IS NULL
  JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.created_by
  WHERE k.revoked_at IS NULL AND k.expires_at > p_from AND k.expires_at <= p_until
    AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.user_id = k.created_by AND n.dedupe_key = 'api_key.expiring:' || k.id::text)
  ORDER BY k.expires_at, k.id
  LIMIT p_limit
$$;

ALTER FUNCTION app_api_keys_expiring(timestamptz, timestamptz, int) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION app_api_keys_expiring(timestamptz, timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_api_keys_expiring(timestamptz, timestamptz, int) TO app_runtime;

-- Live orgs storing at least p_ratio of their storage (their override, limit_overrides.files.storageBytes, or else
-- their tier's: p_limits is FILE_LIMITS of src/lib/limits.ts), with their owners and admins not yet told this
-- month (dedupe key `storage.near_quota:<org id>:<p_month>`).
CREATE OR REPLACE FUNCTION app_orgs_near_storage_quota(p_limits jsonb, p_ratio numeric, p_month text, p_limit int)
RETURNS TABLE (org_id uuid, used_bytes bigint, limit_bytes bigint, user_ids uuid[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM (
    SELECT o.id, s.used, l.bytes,
      array(SELECT m.user_id FROM memberships m WHERE m.org_id = o.id AND m.role IN ('owner', 'admin')
        AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.user_id = m.user_id
          AND n.dedupe_key = 'storage.near_quota:' || o.id::text || ':' || p_month) ORDER BY m.user_id) AS user_ids
    FROM (SELECT f.org_id, sum(f.size)::bigint AS used FROM files f WHERE f.deleted_at IS NULL GROUP BY f.org_id) s
    JOIN organizations o ON o.id = s.org_id AND o.deleted_at IS NULL
    CROSS JOIN LATERAL (SELECT coalesce((o.limit_overrides -> 'files' ->> 'storageBytes')::bigint,
      (p_limits -> o.subscription_tier::text ->> 'storageBytes')::bigint) AS bytes) l
    WHERE s.used >= l.bytes * p_ratio
  ) due
  WHERE cardinality(due.user_ids) > 0
  ORDER BY due.id
  LIMIT p_limit
$$;

ALTER FUNCTION app_orgs_near_storage_quota(jsonb, numeric, text, int) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION app_orgs_near_storage_quota(jsonb, numeric, text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_orgs_near_storage_quota(jsonb, numeric, text, int) TO app_runtime;

-- Retention (daily cron, workers/tasks/notifications.ts): notifications older than p_before go, at most p_limit
-- per run. Far past any queue retry, so a late duplicate delivery cannot bring one back. The runtime role may call
-- it with any cutoff, so the database's own clock bounds it: nothing younger than 180 days
-- (NOTIFICATION_RETENTION_DAYS of src/lib/notification-categories.ts) is ever deleted.
GRANT DELETE ON notifications TO app_internal;
DROP POLICY IF EXISTS internal_prune ON notifications;
CREATE POLICY internal_prune ON notifications FOR DELETE TO app_internal USING (true);

CREATE OR REPLACE FUNCTION app_prune_notifications(p_before timestamptz, p_limit int) RETURNS int
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH gone AS (
    DELETE FROM notifications n WHERE n.id IN (SELECT o.id FROM notifications o WHERE o.created_at < least(p_before, now() - interval '180 days') LIMIT p_limit) RETURNING 1
  )
  SELECT count(*)::int FROM gone
$$;

ALTER FUNCTION app_prune_notifications(timestamptz, int) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION app_prune_notifications(timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_prune_notifications(timestamptz, int) TO app_runtime;
