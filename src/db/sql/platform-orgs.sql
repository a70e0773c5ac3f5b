-- An org's tier and limit overrides (src/lib/limits.ts), the quotas every create checks, and the narrow doors
-- through which platform admins read and change orgs across tenants.

-- Tenants never set their own limits. The runtime role may update an org's name, slug, timestamps and
-- deletion, not its tier or overrides (column grants: a raw UPDATE of them fails inside the gate too), and
-- an org it creates starts on the free tier without overrides. Only the platform functions below change them.
REVOKE UPDATE ON organizations FROM app_runtime;
GRANT UPDATE (name, slug, updated_at, deleted_at) ON organizations TO app_runtime;
DROP POLICY IF EXISTS limits_default ON organizations;
CREATE POLICY limits_default ON organizations AS RESTRICTIVE FOR INSERT TO app_runtime
  WITH CHECK (subscription_tier = 'free' AND limit_overrides = '{}'::jsonb);

-- The platform functions run as app_internal: it changes limits, and counts an org's projects for the usage.
GRANT UPDATE (subscription_tier, limit_overrides, updated_at) ON organizations TO app_internal;
GRANT SELECT ON projects TO app_internal;
DROP POLICY IF EXISTS internal_read ON projects;
CREATE POLICY internal_read ON projects FOR SELECT TO app_internal USING (true);

-- What an org holds, per quota resource of src/lib/limits.ts (QUOTA_RESOURCES). Members count pending
-- invitations too: each may become a member without another check. Runs as its caller, under RLS.
CREATE OR REPLACE FUNCTION app_org_usage(p_org uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'projects', (SELECT count(*)::int FROM projects p WHERE p.org_id = p_org AND p.deleted_at IS NULL),
    'members', (SELECT count(*)::int FROM memberships m WHERE m.org_id = p_org)
      + (SELECT count(*)::int FROM invitations i
         WHERE i.org_id = p_org AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()),
    'apiKeys', (SELECT count(*)::int FROM api_keys k
      WHERE k.org_id = p_org AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))
  )
$$;

-- Raises APQUO (→ 403 QUOTA_EXCEEDED, DETAIL {resource, limit, used}) when the org already holds its quota of
-- p_resource. Sent in the same batch as the insert, just before it, inside the org's gate. p_quotas is THE
-- table of src/lib/limits.ts (QUOTAS, tier → resource → figure), so the figures live in one place; the org's
-- overrides win. The org row lock serialises concurrent creates: the count (a later statement, so a fresh
-- snapshot under READ COMMITTED) sees every create committed before the lock was granted.
CREATE OR REPLACE FUNCTION app_check_quota(p_org uuid, p_resource text, p_quotas jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_tier text;
  v_overrides jsonb;
  v_limit int;
  v_used int;
BEGIN
  SELECT o.subscription_tier::text, o.limit_overrides INTO v_tier, v_overrides
  FROM organizations o WHERE o.id = p_org AND o.deleted_at IS NULL FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'organization not found' USING ERRCODE = 'AP404';
  END IF;
  v_limit := coalesce((v_overrides->'quotas'->>p_resource)::int, (p_quotas->v_tier->>p_resource)::int);
  IF v_limit IS NULL THEN
    RAISE EXCEPTION 'no quota for % on tier %', p_resource, v_tier;
  END IF;
  v_used := (app_org_usage(p_org)->>p_resource)::int;
  IF v_used >= v_limit THEN
    RAISE EXCEPTION 'quota exceeded' USING ERRCODE = 'APQUO',
      DETAIL = jsonb_build_object('resource', p_resource, 'limit', v_limit, 'used', v_used)::text;
  END IF;
END $$;

-- Every platform function starts here: outside the platform gate these functions do not exist (AP404).
CREATE OR REPLACE FUNCTION platform_require_admin() RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT app_acting_platform_admin() THEN
    RAISE EXCEPTION 'not a platform admin' USING ERRCODE = 'AP404';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION platform_exact_time(p_at timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- A page of live orgs, newest first (key: created_at, id), optionally of one tier and matching an ILIKE
-- pattern on slug or name. Returns p_limit rows at most; times as exact text (the cursor's key).
CREATE OR REPLACE FUNCTION platform_org_page(p_tier text, p_pattern text, p_after_at timestamptz, p_after_id uuid, p_limit int)
RETURNS TABLE (id uuid, name text, slug text, subscription_tier text, limit_overrides jsonb, created_at text, updated_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM platform_require_admin();
  RETURN QUERY
    SELECT o.id, o.name, o.slug, o.subscription_tier::text, o.limit_overrides, platform_exact_time(o.created_at), platform_exact_time(o.updated_at)
    FROM organizations o
    WHERE o.deleted_at IS NULL
      AND (p_tier IS NULL OR o.subscription_tier::text = p_tier)
      AND (p_pattern IS NULL OR o.slug ILIKE p_pattern OR o.name ILIKE p_pattern)
      AND (p_after_id IS NULL OR (o.created_at, o.id) < (p_after_at, p_after_id))
    ORDER BY o.created_at DESC, o.id DESC
    LIMIT p_limit;
END $$;

-- One live org with what it holds (app_org_usage) and the bytes it stores (app_org_storage, as the org's usage
-- endpoint reads them: files and uploads in progress); no row if there is none.
CREATE OR REPLACE FUNCTION platform_org_get(p_org uuid)
RETURNS TABLE (id uuid, name text, slug text, subscription_tier text, limit_overrides jsonb, created_at text, updated_at text, usage jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM platform_require_admin();
  RETURN QUERY
    SELECT o.id, o.name, o.slug, o.subscription_tier::text, o.limit_overrides, platform_exact_time(o.created_at), platform_exact_time(o.updated_at),
      app_org_usage(o.id) || jsonb_build_object('storageBytes', app_org_storage(o.id))
    FROM organizations o WHERE o.id = p_org AND o.deleted_at IS NULL;
END $$;

-- What setting the tier and/or overrides (NULL: keep) would change, as {field: {from, to}} for the platform
-- audit entry, which is written first in the same batch. Locks the org row, so the change that follows
-- (platform_org_set_limits) applies to exactly the values read here. Unknown or deleted org: AP404.
CREATE OR REPLACE FUNCTION platform_org_limit_changes(p_org uuid, p_tier text, p_overrides jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_tier text;
  v_overrides jsonb;
  v_changes jsonb := '{}'::jsonb;
BEGIN
  PERFORM platform_require_admin();
  SELECT o.subscription_tier::text, o.limit_overrides INTO v_tier, v_overrides
  FROM organizations o WHERE o.id = p_org AND o.deleted_at IS NULL FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'organization not found' USING ERRCODE = 'AP404';
  END IF;
  IF p_tier IS NOT NULL AND p_tier IS DISTINCT FROM v_tier THEN
    v_changes := v_changes || jsonb_build_object('subscriptionTier', jsonb_build_object('from', v_tier, 'to', p_tier));
  END IF;
  IF p_overrides IS NOT NULL AND p_overrides IS DISTINCT FROM v_overrides THEN
    v_changes := v_changes || jsonb_build_object('limitOverrides', jsonb_build_object('from', v_overrides, 'to', p_overrides));
  END IF;
  RETURN v_changes;
END $$;

-- Sets the tier and/or the overrides (NULL: keep) of a live org; updated_at moves only on a real change.
CREATE OR REPLACE FUNCTION platform_org_set_limits(p_org uuid, p_tier text, p_overrides jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM platform_require_admin();
  UPDATE organizations o
  SET subscription_tier = coalesce(p_tier::subscription_tier, o.subscription_tier),
      limit_overrides = coalesce(p_overrides, o.limit_overrides),
      updated_at = now()
  WHERE o.id = p_org AND o.deleted_at IS NULL
    AND (o.subscription_tier::text, o.limit_overrides) IS DISTINCT FROM (coalesce(p_tier, o.subscription_tier::text), coalesce(p_overrides, o.limit_overrides));
END $$;

ALTER FUNCTION platform_org_page(text, text, timestamptz, uuid, int) OWNER TO app_internal;
ALTER FUNCTION platform_org_get(uuid) OWNER TO app_internal;
ALTER FUNCTION platform_org_limit_changes(uuid, text, jsonb) OWNER TO app_internal;
ALTER FUNCTION platform_org_set_limits(uuid, text, jsonb) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION platform_org_page(text, text, timestamptz, uuid, int), platform_org_get(uuid),
  platform_org_limit_changes(uuid, text, jsonb), platform_org_set_limits(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_org_page(text, text, timestamptz, uuid, int), platform_org_get(uuid),
  platform_org_limit_changes(uuid, text, jsonb), platform_org_set_limits(uuid, text, jsonb) TO app_runtime;
