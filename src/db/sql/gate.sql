-- Wall 1, in the same round trip as the work: the first statement of every tenant transaction.
-- p_actor: {"type":"user","id":<user>,"sessionId":<session>,...} or {"type":"api_key","id":<key>,"keyHash":<sha256>,...},
-- plus ip/userAgent/requestId for the audit trigger.

-- Raises AP401 unless the user is active and the session is live (so deactivation and logout act at once).
CREATE OR REPLACE FUNCTION app_check_session(p_actor jsonb) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_actor->>'type' <> 'user' OR NOT EXISTS (
    SELECT 1 FROM sessions s JOIN credentials c ON c.user_id = s.user_id
    WHERE s.id = (p_actor->>'sessionId')::uuid AND s.user_id = (p_actor->>'id')::uuid
      AND s.revoked_at IS NULL AND s.expires_at > now() AND c.deactivated_at IS NULL
  ) THEN
    RAISE EXCEPTION 'session is not valid' USING ERRCODE = 'AP401';
  END IF;
END $$;

-- For user-level work outside any org (my orgs, create an org): sets the actor and checks the session.
CREATE OR REPLACE FUNCTION app_enter_user(p_actor jsonb, p_org uuid DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM app_check_session(p_actor);
  PERFORM set_config('app.actor', p_actor::text, true);
  PERFORM set_config('app.user_id', p_actor->>'id', true);
  PERFORM set_config('app.org_id', coalesce(p_org::text, ''), true);
END $$;

-- When the caller's session ends (ms since the epoch), read beside app_enter_user by the user gate statement: the
-- user's edge authority (durable-objects/user-authority) holds the session live until then at most. The statement
-- fails whenever the gate refuses, so this answers only for a session the gate has just admitted.
CREATE OR REPLACE FUNCTION app_session_valid_until(p_actor jsonb) RETURNS double precision LANGUAGE sql STABLE AS $$
  SELECT floor(extract(epoch FROM s.expires_at) * 1000)::double precision FROM sessions s
  WHERE s.id = (p_actor->>'sessionId')::uuid AND s.user_id = (p_actor->>'id')::uuid
$$;

-- Enters org p_org as p_actor and checks the permission the route needs:
--   p_org_roles      org roles that hold it;
--   p_project        the project the route acts on, if any (must exist in the org);
--   p_project_roles  project roles that hold it. A project role replaces the org role of a member or
--                    viewer on that project (narrowing or widening it); owners and admins keep theirs.
-- API keys: the app has checked scopes; here the key must still be live and belong to the org.
-- Unknown org, not a member, foreign project → AP404 (never reveals existence). Member without the permission → AP403.
-- Returns the caller's org role ('api_key' for keys).
CREATE OR REPLACE FUNCTION app_enter(p_org uuid, p_actor jsonb, p_org_roles text[], p_project uuid DEFAULT NULL, p_project_roles text[] DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_role text;
  v_project_role text;
  v_user uuid;
BEGIN
  PERFORM set_config('app.actor', p_actor::text, true);
  PERFORM set_config('app.org_id', p_org::text, true);
  IF p_actor->>'type' = 'user' THEN
    PERFORM app_check_session(p_actor);
    v_user := (p_actor->>'id')::uuid;
    PERFORM set_config('app.user_id', v_user::text, true);
    SELECT m.role::text INTO v_role FROM memberships m JOIN organizations o ON o.id = m.org_id AND o.deleted_at IS NULL
    WHERE m.org_id = p_org AND m.user_id = v_user;
  ELSIF p_actor->>'type' = 'api_key' THEN
    PERFORM set_config('app.user_id', '', true);
    SELECT 'api_key' INTO v_role FROM api_keys k JOIN organizations o ON o.id = k.org_id AND o.deleted_at IS NULL
    WHERE k.id = (p_actor->>'id')::uuid AND k.org_id = p_org AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now())
      AND (k.key_hash = p_actor->>'keyHash' OR (k.previous_key_hash = p_actor->>'keyHash' AND k.previous_expires_at > now()));
  END IF;
  IF v_role IS NULL THEN
    -- The app matched the key to this org already: a key that fails here was revoked, expired or rotated out.
    IF p_actor->>'type' = 'api_key' THEN
      RAISE EXCEPTION 'api key is not valid' USING ERRCODE = 'AP401';
    END IF;
    RAISE EXCEPTION 'organization not found' USING ERRCODE = 'AP404';
  END IF;
  IF p_project IS NOT NULL THEN
    IF NOT EXISTS (SELECT 1 FROM projects WHERE id = p_project AND deleted_at IS NULL) THEN
      RAISE EXCEPTION 'project not found' USING ERRCODE = 'AP404';
    END IF;
    IF v_user IS NOT NULL THEN
      SELECT role::text INTO v_project_role FROM project_members WHERE project_id = p_project AND user_id = v_user;
    END IF;
  END IF;
  IF v_role = 'api_key' THEN
    RETURN v_role;
  END IF;
  IF v_project_role IS NOT NULL AND v_role NOT IN ('owner', 'admin') THEN
    IF v_project_role = ANY (coalesce(p_project_roles, '{}')) THEN
      RETURN v_role;
    END IF;
  ELSIF v_role = ANY (p_org_roles) THEN
    RETURN v_role;
  END IF;
  RAISE EXCEPTION 'permission denied' USING ERRCODE = 'AP403';
END $$;
