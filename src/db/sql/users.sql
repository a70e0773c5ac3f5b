-- Cross-tenant questions about users, answered without revealing the tenants (SECURITY DEFINER, owned by app_internal).

-- Whether the caller (app.user_id, set and verified by the gate earlier in this transaction — never a
-- parameter, so it cannot be asked about other pairs) shares a live organization with p_user.
CREATE OR REPLACE FUNCTION users_share_org(p_user uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM memberships mine
    JOIN memberships theirs ON theirs.org_id = mine.org_id AND theirs.user_id = p_user
    JOIN organizations o ON o.id = mine.org_id AND o.deleted_at IS NULL
    WHERE mine.user_id = app_user_id()
  )
$$;

ALTER FUNCTION users_share_org(uuid) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION users_share_org(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION users_share_org(uuid) TO app_runtime;
