-- Lookups by secret, before the org is known: SECURITY DEFINER (owned by app_internal, which may look
-- across tenants), narrow, and callable only by the app.

-- The live key with this hash (current, or previous within its rotation grace period).
CREATE OR REPLACE FUNCTION api_key_authenticate(p_key_hash text)
RETURNS TABLE (id uuid, org_id uuid, project_id uuid, scopes text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT k.id, k.org_id, k.project_id, k.scopes
  FROM api_keys k JOIN organizations o ON o.id = k.org_id AND o.deleted_at IS NULL
  WHERE (k.key_hash = p_key_hash OR (k.previous_key_hash = p_key_hash AND k.previous_expires_at > now()))
    AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
$$;

-- Records use at most once a minute, so a busy key does not write on every request.
CREATE OR REPLACE FUNCTION api_key_touch(p_key_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE api_keys SET last_used_at = now()
  WHERE id = p_key_id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
$$;

ALTER FUNCTION api_key_authenticate(text) OWNER TO app_internal;
ALTER FUNCTION api_key_touch(uuid) OWNER TO app_internal;
-- Functions are executable by PUBLIC by default; the definer ones only by the app.
REVOKE EXECUTE ON FUNCTION api_key_authenticate(text), api_key_touch(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_key_authenticate(text), api_key_touch(uuid) TO app_runtime;
