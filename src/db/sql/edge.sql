-- The edge authority's copy of a grant (durable-objects/org-authority): the facts app_enter has just checked,
-- so the authority can decide this caller's next requests without Postgres. Called in the gate statement,
-- after app_enter admitted the caller (the select list runs in order, and app_enter raises on a refusal), so
-- row-level security already limits every read here to the entered org.
CREATE OR REPLACE FUNCTION app_edge_grant(p_org uuid, p_actor jsonb, p_project uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_user uuid;
  v_grant jsonb;
BEGIN
  SELECT jsonb_build_object('tier', o.subscription_tier, 'overrides', o.limit_overrides) INTO v_grant
  FROM organizations o WHERE o.id = p_org;
  IF p_project IS NOT NULL THEN
    v_grant := v_grant || jsonb_build_object('project', p_project);
  END IF;
  IF p_actor->>'type' = 'user' THEN
    v_user := (p_actor->>'id')::uuid;
    RETURN v_grant || jsonb_build_object(
      'type', 'user',
      'validUntil', (SELECT floor(extract(epoch FROM s.expires_at) * 1000) FROM sessions s WHERE s.id = (p_actor->>'sessionId')::uuid),
      'role', (SELECT m.role FROM memberships m WHERE m.org_id = p_org AND m.user_id = v_user),
      'projectRoles', coalesce((SELECT jsonb_object_agg(pm.project_id, pm.role) FROM project_members pm
                                WHERE pm.org_id = p_org AND pm.user_id = v_user), '{}'::jsonb));
  END IF;
  -- A key is valid until it expires, or, when the caller presented the previous secret of a rotation, until its grace ends.
  RETURN v_grant || (SELECT jsonb_build_object('type', 'api_key',
      'validUntil', floor(extract(epoch FROM least(k.expires_at,
        CASE WHEN k.key_hash = p_actor->>'keyHash' THEN NULL ELSE k.previous_expires_at END)) * 1000))
    FROM api_keys k WHERE k.id = (p_actor->>'id')::uuid);
END $$;

-- The orgs a user belongs to, whatever their session's state: after a logout, a password reset or a
-- deactivation, the app tells each of these orgs' edge authorities that the user's grants changed.
CREATE OR REPLACE FUNCTION app_user_org_ids(p_user uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT m.org_id FROM memberships m WHERE m.user_id = p_user
$$;

ALTER FUNCTION app_user_org_ids(uuid) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION app_user_org_ids(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_user_org_ids(uuid) TO app_runtime;
