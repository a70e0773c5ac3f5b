-- Platform operators (the product's own staff, not any tenant's): the gate of platform-admin routes.
-- The list is readable only through this narrow SECURITY DEFINER lookup; the app can never write it.
GRANT SELECT ON platform_admins TO app_internal;

CREATE OR REPLACE FUNCTION app_is_platform_admin(p_user uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM platform_admins WHERE user_id = p_user)
$$;

ALTER FUNCTION app_is_platform_admin(uuid) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION app_is_platform_admin(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_is_platform_admin(uuid) TO app_runtime;

-- Checks the session like app_enter_user, then that the user operates the platform. Anyone else gets AP404:
-- for them these routes do not exist. No org is entered: tenant rows stay invisible to RLS.
CREATE OR REPLACE FUNCTION app_enter_platform_admin(p_actor jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM app_enter_user(p_actor);
  IF NOT app_is_platform_admin((p_actor->>'id')::uuid) THEN
    RAISE EXCEPTION 'not a platform admin' USING ERRCODE = 'AP404';
  END IF;
END $$;

-- The caller is a platform admin: the platform gate (above) has entered them in this transaction.
CREATE OR REPLACE FUNCTION app_acting_platform_admin() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(app_is_platform_admin(nullif(current_setting('app.user_id', true), '')::uuid), false)
    AND current_setting('app.org_id', true) IS NOT DISTINCT FROM ''
$$;

-- Feature flags: every request's evaluation reads the KV copy; the app reads the table to write that copy
-- (on change and by cron), and only a platform admin inside the platform gate may change it.
ALTER TABLE feature_flags ENABLE ROW LEVEL SECURITY;
ALTER TABLE feature_flags FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON feature_flags TO app_runtime;
DROP POLICY IF EXISTS feature_flags_read ON feature_flags;
CREATE POLICY feature_flags_read ON feature_flags FOR SELECT TO app_runtime USING (true);
DROP POLICY IF EXISTS feature_flags_write ON feature_flags;
CREATE POLICY feature_flags_write ON feature_flags FOR ALL TO app_runtime
  USING (app_acting_platform_admin()) WITH CHECK (app_acting_platform_admin());

-- The platform audit log: platform admins append (as themselves) and read; nobody updates or deletes.
ALTER TABLE platform_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_audit_log FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON platform_audit_log TO app_runtime;
GRANT USAGE ON SEQUENCE platform_audit_log_id_seq TO app_runtime;
DROP POLICY IF EXISTS platform_audit_log_read ON platform_audit_log;
CREATE POLICY platform_audit_log_read ON platform_audit_log FOR SELECT TO app_runtime USING (app_acting_platform_admin());
DROP POLICY IF EXISTS platform_audit_log_append ON platform_audit_log;
CREATE POLICY platform_audit_log_append ON platform_audit_log FOR INSERT TO app_runtime
  WITH CHECK (app_acting_platform_admin() AND actor_id = nullif(current_setting('app.user_id', true), '')::uuid);
