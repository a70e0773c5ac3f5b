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
