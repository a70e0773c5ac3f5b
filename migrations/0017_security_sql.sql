-- Generated from src/db/sql/ by `node scripts/generate-security-sql.ts`.
-- Do not edit: change src/db/sql/ and generate a new migration (README, "Security SQL").
-- src/db/sql/context.sql
-- Request context: set per transaction (set_config(..., true)) by the gate, read by policies and triggers.

CREATE OR REPLACE FUNCTION app_org_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.org_id', true), '')::uuid $$;

CREATE OR REPLACE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
--> statement-breakpoint
-- src/db/sql/masking.sql
-- Personal data is masked and secrets never enter the audit log. The same rules as src/lib/mask.ts
-- (maskEmail, redact) — test/integration/masking.test.ts feeds both the same cases:
--   * a value under a secret-looking key becomes "[redacted]", whatever it is;
--   * a string that is an email keeps up to 3 leading characters and the domain: joh***@example.com.
--     The domain follows the last "@" (a quoted local part may hold one); no whitespace anywhere.
--   * arrays and objects are masked element by element (array elements have no key).

-- `ws` is exactly what JavaScript's \s matches: PostgreSQL's own \s depends on the locale (no-break
-- space, for one, is not a space under glibc), and the two sides must agree on every input.
CREATE OR REPLACE FUNCTION mask_email(p_value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT regexp_replace(p_value, format('^([^@%1$s]{1,3})[^%1$s]*(@[^@%1$s]+)$', ws), '\1***\2')
  FROM (VALUES ('\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff')) AS t(ws)
$$;

CREATE OR REPLACE FUNCTION audit_mask(p_key text, p_value jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_key ~* 'pass(word)?|secret|token|authorization|cookie|api[-_]?key|key[-_]?hash|dsn|signature|^url$|link' THEN
    RETURN to_jsonb('[redacted]'::text);
  END IF;
  CASE jsonb_typeof(p_value)
    WHEN 'string' THEN
      RETURN to_jsonb(mask_email(p_value #>> '{}'));
    WHEN 'array' THEN
      RETURN (SELECT coalesce(jsonb_agg(audit_mask('', e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_value) WITH ORDINALITY AS e(value, n));
    WHEN 'object' THEN
      RETURN (SELECT coalesce(jsonb_object_agg(e.key, audit_mask(e.key, e.value)), '{}'::jsonb) FROM jsonb_each(p_value) AS e);
    ELSE
      RETURN p_value;
  END CASE;
END $$;
--> statement-breakpoint
-- src/db/sql/audit.sql
-- Audit log: a trigger on every tenant table writes the entry in the same transaction as the change.

-- Inserted/deleted rows: their fields; updates: {field: {from, to}} for fields that changed.
CREATE OR REPLACE FUNCTION audit_changes(p_old jsonb, p_new jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_object_agg(k.key, CASE
      WHEN p_old IS NULL THEN audit_mask(k.key, p_new->k.key)
      WHEN p_new IS NULL THEN audit_mask(k.key, p_old->k.key)
      ELSE jsonb_build_object('from', audit_mask(k.key, p_old->k.key), 'to', audit_mask(k.key, p_new->k.key))
    END), '{}'::jsonb)
  FROM jsonb_object_keys(coalesce(p_new, p_old)) AS k(key)
  -- A multipart upload's parts map grows with every part: audited, it would grow the log with the square of the
  -- parts. upload_id is R2's (or a signed upload's claim): bookkeeping, not a change of the file.
  WHERE k.key NOT IN ('created_at', 'updated_at', 'last_used_at', 'password_hash', 'token_hash', 'key_hash', 'previous_key_hash', 'parts', 'upload_id')
    AND (p_old IS NULL OR p_new IS NULL OR (p_old->k.key) IS DISTINCT FROM (p_new->k.key))
$$;

-- The exact text each entry's hash covers; GET …/audit-logs/verify recomputes hashes from it.
CREATE OR REPLACE FUNCTION audit_canonical(a audit_logs) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT concat_ws(E'\x1f', a.org_id::text, a.seq::text, a.actor_type, coalesce(a.actor_id, ''), a.action,
    a.target_type, coalesce(a.target_id, ''), coalesce(a.ip, ''), coalesce(a.user_agent, ''), coalesce(a.request_id, ''),
    a.changes::text, to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
$$;

-- Appends one entry to org p_org's chain, as the actor of this transaction (app.actor, set by the gate; none: system).
-- Internal: the trigger below and app_audit_event call it; the runtime role cannot name another org's chain.
CREATE OR REPLACE FUNCTION audit_append(p_org uuid, p_action text, p_target_type text, p_target_id text, p_changes jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_actor jsonb := coalesce(nullif(current_setting('app.actor', true), '')::jsonb, '{"type":"system"}'::jsonb);
  v_entry audit_logs;
  v_head audit_chain_heads;
BEGIN
  v_entry.org_id := p_org;
  v_entry.action := p_action;
  v_entry.target_type := p_target_type;
  v_entry.target_id := p_target_id;
  v_entry.changes := p_changes;
  v_entry.actor_type := v_actor->>'type';
  v_entry.actor_id := v_actor->>'id';
  v_entry.ip := v_actor->>'ip';
  v_entry.user_agent := v_actor->>'userAgent';
  v_entry.request_id := v_actor->>'requestId';
  v_entry.created_at := date_trunc('milliseconds', clock_timestamp());

  -- The head row's lock serialises appends per org, so the chain never forks under concurrency.
  INSERT INTO audit_chain_heads (org_id, seq, hash) VALUES (v_entry.org_id, 0, repeat('0', 64)) ON CONFLICT DO NOTHING;
  SELECT * INTO v_head FROM audit_chain_heads h WHERE h.org_id = v_entry.org_id FOR UPDATE;
  v_entry.seq := v_head.seq + 1;
  v_entry.prev_hash := v_head.hash;
  v_entry.hash := encode(sha256(convert_to(v_entry.prev_hash || E'\n' || audit_canonical(v_entry), 'UTF8')), 'hex');

  INSERT INTO audit_logs (org_id, seq, actor_type, actor_id, action, target_type, target_id, ip, user_agent, request_id, changes, created_at, prev_hash, hash)
  VALUES (v_entry.org_id, v_entry.seq, v_entry.actor_type, v_entry.actor_id, v_entry.action, v_entry.target_type, v_entry.target_id,
          v_entry.ip, v_entry.user_agent, v_entry.request_id, v_entry.changes, v_entry.created_at, v_entry.prev_hash, v_entry.hash);
  UPDATE audit_chain_heads h SET seq = v_entry.seq, hash = v_entry.hash WHERE h.org_id = v_entry.org_id;
END $$;

CREATE OR REPLACE FUNCTION audit_row_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_old jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  v_new jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  v_row jsonb := coalesce(v_new, v_old);
  v_changes jsonb := audit_changes(v_old, v_new);
  v_verb text;
BEGIN
  IF TG_OP = 'UPDATE' AND v_changes = '{}'::jsonb THEN
    RETURN NULL; -- e.g. only last_used_at moved: not a change worth an entry
  END IF;
  v_verb := CASE
    WHEN TG_OP = 'INSERT' THEN 'created'
    WHEN TG_OP = 'DELETE' THEN 'deleted'
    WHEN v_changes ? 'deleted_at' AND v_old->>'deleted_at' IS NULL THEN 'deleted'
    WHEN v_changes ? 'revoked_at' AND v_old->>'revoked_at' IS NULL THEN 'revoked'
    WHEN v_changes ? 'accepted_at' AND v_old->>'accepted_at' IS NULL THEN 'accepted'
    WHEN v_changes ? 'previous_expires_at' THEN 'rotated'
    ELSE 'updated'
  END;
  PERFORM audit_append((v_row->>TG_ARGV[2])::uuid, TG_ARGV[0] || '.' || v_verb, TG_ARGV[0], v_row->>TG_ARGV[1], v_changes);
  RETURN NULL;
END $$;

-- An act that changes no row (signing a download URL grants access, and nothing else), recorded by the
-- runtime in the same batch as the act: one entry in the chain of the org the gate entered in this
-- transaction. No org entered (app.org_id unset): refused, so it can never write into another tenant's chain.
CREATE OR REPLACE FUNCTION app_audit_event(p_action text, p_target_type text, p_target_id text, p_changes jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_org uuid := app_org_id();
BEGIN
  IF v_org IS NULL THEN
    RAISE EXCEPTION 'app_audit_event: no organization entered in this transaction' USING ERRCODE = '42501';
  END IF;
  -- Same shape as the trigger's actions (<target>.<verb>), so filters and webhook mapping treat them alike.
  IF p_action IS NULL OR p_action !~ '^[a-z_]+\.[a-z_]+$' OR p_target_type IS NULL OR p_target_type !~ '^[a-z_]+$' THEN
    RAISE EXCEPTION 'app_audit_event: action must be <target>.<verb> and target_type a name' USING ERRCODE = '22023';
  END IF;
  IF p_changes IS NULL OR jsonb_typeof(p_changes) <> 'object' THEN
    RAISE EXCEPTION 'app_audit_event: changes must be a JSON object' USING ERRCODE = '22023';
  END IF;
  PERFORM audit_append(v_org, p_action, p_target_type, p_target_id, p_changes);
END $$;

ALTER FUNCTION audit_append(uuid, text, text, text, jsonb) OWNER TO app_internal;
ALTER FUNCTION audit_row_change() OWNER TO app_internal;
ALTER FUNCTION app_audit_event(text, text, text, jsonb) OWNER TO app_internal;
-- audit_row_change only ever runs as a trigger; audit_append takes any org, so only those two (its owner's) call it.
REVOKE EXECUTE ON FUNCTION audit_append(uuid, text, text, text, jsonb), audit_row_change(), app_audit_event(text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_audit_event(text, text, text, jsonb) TO app_runtime;
--> statement-breakpoint
-- src/db/sql/gate.sql
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
--> statement-breakpoint
-- src/db/sql/edge.sql
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
--> statement-breakpoint
-- src/db/sql/platform-admin.sql
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
--> statement-breakpoint
-- src/db/sql/api-keys.sql
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
--> statement-breakpoint
-- src/db/sql/users.sql
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
--> statement-breakpoint
-- src/db/sql/invitations.sql
-- Invitations are looked up by secret before the invitee belongs to the org (SECURITY DEFINER, owned by app_internal).

-- Accepts an invitation as the signed-in invitee; the membership and the invitation change together.
-- The two AP409 cases carry a stable HINT (already_accepted | already_member) for the app to tell apart.
CREATE OR REPLACE FUNCTION invitation_accept(p_token_hash text, p_actor jsonb)
RETURNS TABLE (org_id uuid, role text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_invitation invitations;
  v_email text;
BEGIN
  PERFORM app_check_session(p_actor);
  SELECT i.* INTO v_invitation FROM invitations i JOIN organizations o ON o.id = i.org_id AND o.deleted_at IS NULL
  WHERE i.token_hash = p_token_hash FOR UPDATE OF i;
  IF NOT FOUND OR v_invitation.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'invitation not found' USING ERRCODE = 'AP404';
  END IF;
  IF v_invitation.accepted_at IS NOT NULL THEN
    RAISE EXCEPTION 'invitation already accepted' USING ERRCODE = 'AP409', HINT = 'already_accepted';
  END IF;
  IF v_invitation.expires_at <= now() THEN
    RAISE EXCEPTION 'invitation expired' USING ERRCODE = 'AP410';
  END IF;
  SELECT u.email INTO v_email FROM users u WHERE u.id = (p_actor->>'id')::uuid;
  IF v_email IS DISTINCT FROM v_invitation.email THEN
    RAISE EXCEPTION 'invitation is for another email address' USING ERRCODE = 'AP403';
  END IF;
  PERFORM set_config('app.actor', p_actor::text, true);
  PERFORM set_config('app.user_id', p_actor->>'id', true);
  PERFORM set_config('app.org_id', v_invitation.org_id::text, true);
  IF EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = v_invitation.org_id AND m.user_id = (p_actor->>'id')::uuid) THEN
    RAISE EXCEPTION 'already a member' USING ERRCODE = 'AP409', HINT = 'already_member';
  END IF;
  INSERT INTO memberships (org_id, user_id, role) VALUES (v_invitation.org_id, (p_actor->>'id')::uuid, v_invitation.role);
  UPDATE invitations SET accepted_at = now(), updated_at = now() WHERE id = v_invitation.id;
  RETURN QUERY SELECT v_invitation.org_id, v_invitation.role::text;
END $$;

ALTER FUNCTION invitation_accept(text, jsonb) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION invitation_accept(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invitation_accept(text, jsonb) TO app_runtime;
--> statement-breakpoint
-- src/db/sql/refresh.sql
-- Refresh tokens: rotation with reuse detection. Runs as the caller (the runtime role may touch its own tables).

-- Refresh-token rotation, decided under a lock on the session row so concurrent refreshes serialise.
-- p_next_hash is the hash of the successor token, which the app derives deterministically (HMAC of the
-- presented token), so refreshes racing inside the grace window all receive the same pair.
-- Outcomes: rotated | replayed (same token again within p_grace, successor still current) | reused
-- (the family is revoked) | invalid (unknown, expired, revoked, or user deactivated).
CREATE OR REPLACE FUNCTION refresh_rotate(p_hash text, p_next_hash text, p_grace interval)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid, rotated_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  v_token refresh_tokens;
  v_session sessions;
BEGIN
  SELECT * INTO v_token FROM refresh_tokens t WHERE t.token_hash = p_hash;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'invalid', NULL::uuid, NULL::uuid, NULL::timestamptz;
    RETURN;
  END IF;
  SELECT * INTO v_session FROM sessions s WHERE s.id = v_token.session_id FOR UPDATE;
  -- Re-read after the lock: a concurrent rotation may have committed while we waited.
  SELECT * INTO v_token FROM refresh_tokens t WHERE t.token_hash = p_hash;
  IF v_session.revoked_at IS NOT NULL OR v_session.expires_at <= now()
     OR EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = v_session.user_id AND c.deactivated_at IS NOT NULL) THEN
    RETURN QUERY SELECT 'invalid', v_session.id, v_session.user_id, NULL::timestamptz;
    RETURN;
  END IF;
  IF v_token.rotated_at IS NULL THEN
    UPDATE refresh_tokens t SET rotated_at = clock_timestamp() WHERE t.token_hash = p_hash RETURNING t.rotated_at INTO v_token.rotated_at;
    INSERT INTO refresh_tokens (token_hash, session_id) VALUES (p_next_hash, v_session.id);
    UPDATE sessions s SET last_used_at = v_token.rotated_at WHERE s.id = v_session.id;
    RETURN QUERY SELECT 'rotated', v_session.id, v_session.user_id, v_token.rotated_at;
    RETURN;
  END IF;
  IF clock_timestamp() - v_token.rotated_at <= p_grace AND EXISTS (
    SELECT 1 FROM refresh_tokens t WHERE t.token_hash = p_next_hash AND t.session_id = v_session.id AND t.rotated_at IS NULL
  ) THEN
    RETURN QUERY SELECT 'replayed', v_session.id, v_session.user_id, v_token.rotated_at;
    RETURN;
  END IF;
  UPDATE sessions s SET revoked_at = now(), revoked_reason = 'refresh_token_reuse' WHERE s.id = v_session.id;
  RETURN QUERY SELECT 'reused', v_session.id, v_session.user_id, NULL::timestamptz;
END $$;
--> statement-breakpoint
-- src/db/sql/tenant-tables.sql
-- Makes a table a tenant table in one call, so a new one cannot forget a piece (README, "Security SQL"):
--   SELECT app_secure_tenant_table('widgets', 'widget');                 -- target column id, org column org_id
--   SELECT app_secure_tenant_table('widget_members', 'widget_member', 'user_id');
-- Row-level security enabled and FORCEd (even the owner obeys it), the standard policy (rows of the current
-- org only, for reading and for writing), read/write grants to the runtime role (and its sequences), and the
-- audit trigger. The tables of 0002 keep the policies written for them there: several differ on purpose
-- (organizations and memberships are also visible to their members, the audit tables are append-only).
-- test/integration/tenant-tables.test.ts checks every table with an org_id column for each of these pieces.
CREATE OR REPLACE FUNCTION app_secure_tenant_table(p_table regclass, p_entity text, p_target_column text DEFAULT 'id', p_org_column text DEFAULT 'org_id')
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  v_column text;
  v_sequence regclass;
BEGIN
  FOREACH v_column IN ARRAY ARRAY[p_target_column, p_org_column] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = p_table AND attname = v_column AND attnum > 0 AND NOT attisdropped) THEN
      RAISE EXCEPTION 'table % has no column %', p_table, v_column;
    END IF;
  END LOOP;
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_table);
  EXECUTE format('CREATE POLICY tenant ON %s USING (%2$I = app_org_id()) WITH CHECK (%2$I = app_org_id())', p_table, p_org_column);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO app_runtime', p_table);
  FOR v_sequence IN
    SELECT d.objid::regclass FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    WHERE d.classid = 'pg_class'::regclass AND d.refobjid = p_table AND d.deptype IN ('a', 'i')
  LOOP
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO app_runtime', v_sequence);
  END LOOP;
  EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION audit_row_change(%L, %L, %L)',
    p_table, p_entity, p_target_column, p_org_column);
END $$;

-- Only the migrations (the schema owner) set tables up.
REVOKE EXECUTE ON FUNCTION app_secure_tenant_table(regclass, text, text, text) FROM PUBLIC;
--> statement-breakpoint
-- src/db/sql/platform-orgs.sql
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
--> statement-breakpoint
-- src/db/sql/idempotency.sql
-- Idempotency keys (README, "Idempotency keys"). A key is claimed by the first statement after the gate, in
-- the same transaction as the work it guards: a duplicate blocks on the uncommitted claim, then finds it
-- committed (and answers 409 or replays) or rolled back (and claims it itself), so K duplicates make exactly
-- one effect. Rows belong to the caller the gate admitted; row-level security keys on it.

-- The user or API key the gate of this transaction admitted (app.actor is set by every gate, which raises
-- before the work runs if the actor is not live).
CREATE OR REPLACE FUNCTION app_actor_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT (nullif(current_setting('app.actor', true), '')::jsonb->>'id')::uuid $$;

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO app_runtime;
GRANT SELECT, UPDATE, DELETE ON idempotency_keys TO app_internal;
DROP POLICY IF EXISTS caller ON idempotency_keys;
CREATE POLICY caller ON idempotency_keys TO app_runtime USING (actor_id = app_actor_id()) WITH CHECK (actor_id = app_actor_id());
DROP POLICY IF EXISTS internal ON idempotency_keys;
CREATE POLICY internal ON idempotency_keys TO app_internal USING (true) WITH CHECK (true);

-- Claims p_key_hash for the gate's caller, or raises, which rolls the whole batch back before the work runs:
-- APIDM the key was used with other parameters (422), APIDU its first request has not answered yet (409),
-- APIDR its first answer is stored: DETAIL carries it (sealed) for the app to replay. A claim older than
-- 24 hours has expired and is claimed anew.
CREATE OR REPLACE FUNCTION app_idempotency_claim(p_key_hash text, p_fingerprint text) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  v_actor uuid := app_actor_id();
  v_row idempotency_keys;
BEGIN
  IF v_actor IS NULL THEN
    RAISE EXCEPTION 'an idempotency key is claimed after the gate';
  END IF;
  INSERT INTO idempotency_keys AS k (actor_id, key_hash, fingerprint) VALUES (v_actor, p_key_hash, p_fingerprint)
  ON CONFLICT (actor_id, key_hash) DO UPDATE SET fingerprint = excluded.fingerprint, response = NULL, created_at = now()
    WHERE k.created_at <= now() - interval '24 hours'
  RETURNING * INTO v_row;
  IF FOUND THEN
    RETURN;
  END IF;
  SELECT * INTO STRICT v_row FROM idempotency_keys k WHERE k.actor_id = v_actor AND k.key_hash = p_key_hash;
  IF v_row.fingerprint <> p_fingerprint THEN
    RAISE EXCEPTION 'idempotency key reused with other parameters' USING ERRCODE = 'APIDM';
  END IF;
  IF v_row.response IS NULL THEN
    RAISE EXCEPTION 'idempotency key in use' USING ERRCODE = 'APIDU';
  END IF;
  RAISE EXCEPTION 'idempotent replay' USING ERRCODE = 'APIDR', DETAIL = v_row.response;
END $$;

-- Stores the answer of a claimed key once its work committed. Runs without the gate (SECURITY DEFINER): the
-- request may have ended the grant it was admitted on (log out, leave or delete the org). Completes only an
-- open claim of that caller with that fingerprint, once.
CREATE OR REPLACE FUNCTION app_idempotency_complete(p_actor uuid, p_key_hash text, p_fingerprint text, p_response text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE idempotency_keys SET response = p_response
  WHERE actor_id = p_actor AND key_hash = p_key_hash AND fingerprint = p_fingerprint AND response IS NULL
$$;

-- Gives up an open claim whose request answered 503 (a dependency was unavailable, so the work did not
-- complete): a retry with the key runs again rather than replaying the 503 for a day. Same guard as above.
CREATE OR REPLACE FUNCTION app_idempotency_release(p_actor uuid, p_key_hash text, p_fingerprint text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM idempotency_keys
  WHERE actor_id = p_actor AND key_hash = p_key_hash AND fingerprint = p_fingerprint AND response IS NULL
$$;

-- Stores the refusal of a request whose work began but whose transaction rolled back (e.g. a conflict or
-- a quota): called behind the gate, so a caller the gate refuses stores nothing. A claim made meanwhile by
-- a duplicate wins.
CREATE OR REPLACE FUNCTION app_idempotency_record(p_key_hash text, p_fingerprint text, p_response text) RETURNS void
LANGUAGE sql SET search_path = public, pg_temp AS $$
  INSERT INTO idempotency_keys AS k (actor_id, key_hash, fingerprint, response) VALUES (app_actor_id(), p_key_hash, p_fingerprint, p_response)
  ON CONFLICT (actor_id, key_hash) DO UPDATE SET fingerprint = excluded.fingerprint, response = excluded.response, created_at = now()
    WHERE k.created_at <= now() - interval '24 hours'
$$;

-- The daily prune (workers/tasks/idempotency-keys.ts) runs in no caller's name, so without reading any row
-- it may delete only keys claimed before p_before, and never within their 24 hours.
CREATE OR REPLACE FUNCTION app_idempotency_prune(p_before timestamptz) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH removed AS (
    DELETE FROM idempotency_keys WHERE created_at < least(p_before, now() - interval '24 hours') RETURNING 1
  )
  SELECT count(*)::integer FROM removed
$$;

ALTER FUNCTION app_idempotency_complete(uuid, text, text, text) OWNER TO app_internal;
ALTER FUNCTION app_idempotency_release(uuid, text, text) OWNER TO app_internal;
ALTER FUNCTION app_idempotency_prune(timestamptz) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION app_idempotency_complete(uuid, text, text, text), app_idempotency_release(uuid, text, text), app_idempotency_prune(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_idempotency_complete(uuid, text, text, text), app_idempotency_release(uuid, text, text), app_idempotency_prune(timestamptz) TO app_runtime;
--> statement-breakpoint
-- src/db/sql/files.sql
-- Files (src/routes/files): the storage an org uses and its quota, and the narrow doors through which a signed
-- URL (which carries no credentials) and the cleanup task reach one file's row across tenants.

-- app_internal reaches files only through the SECURITY DEFINER functions below.
GRANT SELECT, UPDATE, DELETE ON files TO app_internal;
DROP POLICY IF EXISTS internal ON files;
CREATE POLICY internal ON files TO app_internal USING (true) WITH CHECK (true);

-- Bytes an org stores or has reserved (pending uploads count their declared size); deleted files do not count.
CREATE OR REPLACE FUNCTION app_org_storage(p_org uuid) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(f.size), 0)::bigint FROM files f WHERE f.org_id = p_org AND f.deleted_at IS NULL
$$;

-- Raises APQUO (→ 403 QUOTA_EXCEEDED, DETAIL {resource: 'storageBytes', limit, used}) when storing p_bytes more
-- (beside what p_except already holds, when it is being finished) would exceed the org's storage: its override
-- (limit_overrides.files.storageBytes) or else its tier's. p_limits is FILE_LIMITS of src/lib/limits.ts. Sent in the same transaction as the insert or the finish: the org row lock
-- serialises concurrent uploads, so two of them can never both fit into room for one.
CREATE OR REPLACE FUNCTION app_check_storage(p_org uuid, p_bytes bigint, p_limits jsonb, p_except uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_tier text;
  v_overrides jsonb;
  v_limit bigint;
  v_used bigint;
BEGIN
  SELECT o.subscription_tier::text, o.limit_overrides INTO v_tier, v_overrides FROM organizations o
  WHERE o.id = p_org AND o.deleted_at IS NULL FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'organization not found' USING ERRCODE = 'AP404';
  END IF;
  v_limit := coalesce((v_overrides->'files'->>'storageBytes')::bigint, (p_limits->v_tier->>'storageBytes')::bigint);
  SELECT coalesce(sum(f.size), 0)::bigint INTO v_used FROM files f
  WHERE f.org_id = p_org AND f.deleted_at IS NULL AND f.id IS DISTINCT FROM p_except;
  IF v_used + p_bytes > v_limit THEN
    RAISE EXCEPTION 'storage quota exceeded' USING ERRCODE = 'APQUO',
      DETAIL = jsonb_build_object('resource', 'storageBytes', 'limit', v_limit, 'used', v_used)::text;
  END IF;
END $$;

-- The live file a signed URL names (its signature already checked by the Worker), only if it is p_org's.
CREATE OR REPLACE FUNCTION app_signed_file(p_file uuid, p_org uuid) RETURNS SETOF files
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM files f WHERE f.id = p_file AND f.org_id = p_org AND f.deleted_at IS NULL
$$;

-- Audited as the uploader who asked for the signed URL, with the facts of the request that used it.
CREATE OR REPLACE FUNCTION app_signed_upload_actor(p_file uuid, p_meta jsonb) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_type text;
  v_id uuid;
BEGIN
  SELECT f.uploader_type, f.uploader_id INTO v_type, v_id FROM files f WHERE f.id = p_file;
  PERFORM set_config('app.actor', (p_meta || jsonb_build_object('type', coalesce(v_type, 'system'), 'id', v_id))::text, true);
END $$;

-- Before claims, finish and discard took no claim: those signatures go.
DROP FUNCTION IF EXISTS app_signed_upload_finish(uuid, uuid, bigint, text, jsonb, jsonb);
DROP FUNCTION IF EXISTS app_signed_upload_discard(uuid, uuid, jsonb);

-- Claims a signed upload for one request before any byte moves (upload_id holds the claim, `signed:<uuid>`), so a
-- concurrent or repeated PUT of the same URL finds it taken and writes nothing: two writers of one object key
-- could otherwise leave a ready row whose object the loser deleted.
CREATE OR REPLACE FUNCTION app_signed_upload_claim(p_file uuid, p_org uuid, p_claim text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE files f SET upload_id = p_claim
  WHERE f.id = p_file AND f.org_id = p_org AND f.status = 'pending' AND f.upload_id IS NULL AND f.deleted_at IS NULL AND f.expires_at > now();
  RETURN FOUND;
END $$;

-- A signed upload's bytes are stored: the claimed row becomes ready, within the storage quota. False if the row
-- is no longer this claim's live, unexpired signed upload of p_org (then the caller deletes the object it wrote).
CREATE OR REPLACE FUNCTION app_signed_upload_finish(p_file uuid, p_org uuid, p_claim text, p_size bigint, p_sha256 text, p_limits jsonb, p_meta jsonb) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM app_signed_upload_actor(p_file, p_meta);
  PERFORM app_check_storage(p_org, p_size, p_limits, p_file);
  UPDATE files f SET status = 'ready', size = p_size, sha256 = p_sha256, upload_id = NULL, expires_at = NULL, updated_at = now()
  WHERE f.id = p_file AND f.org_id = p_org AND f.status = 'pending' AND f.upload_id = p_claim AND f.deleted_at IS NULL AND f.expires_at > now();
  RETURN FOUND;
END $$;

-- A signed upload that failed (wrong type, size, quota): its reservation goes, so nothing is left behind.
CREATE OR REPLACE FUNCTION app_signed_upload_discard(p_file uuid, p_org uuid, p_claim text, p_meta jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM app_signed_upload_actor(p_file, p_meta);
  DELETE FROM files f WHERE f.id = p_file AND f.org_id = p_org AND f.status = 'pending' AND f.upload_id = p_claim;
END $$;

-- For the cleanup task (workers/tasks/files-cleanup.ts): abandoned uploads (pending past expires_at), files
-- deleted before p_deleted_before, and every file of an org deleted before p_deleted_before (an org's deletion
-- keeps its files as long as a file's own deletion does), across orgs.
CREATE OR REPLACE FUNCTION app_files_due(p_now timestamptz, p_deleted_before timestamptz, p_limit int)
RETURNS TABLE (id uuid, org_id uuid, upload_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  (SELECT f.id, f.org_id, f.upload_id FROM files f
   WHERE (f.status = 'pending' AND f.expires_at <= p_now) OR f.deleted_at <= p_deleted_before
   ORDER BY coalesce(f.deleted_at, f.expires_at) LIMIT p_limit)
  UNION
  (SELECT f.id, f.org_id, f.upload_id FROM organizations o JOIN files f ON f.org_id = o.id
   WHERE o.deleted_at <= p_deleted_before LIMIT p_limit)
  LIMIT p_limit
$$;

-- Removes one due row (its object already deleted); a row that stopped being due meanwhile stays.
CREATE OR REPLACE FUNCTION app_file_purge(p_file uuid, p_now timestamptz, p_deleted_before timestamptz) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM files f WHERE f.id = p_file AND ((f.status = 'pending' AND f.expires_at <= p_now) OR f.deleted_at <= p_deleted_before
    OR EXISTS (SELECT 1 FROM organizations o WHERE o.id = f.org_id AND o.deleted_at <= p_deleted_before))
$$;

-- For the cleanup task's orphan sweep: which of these ids have no file row at all (an object whose row was
-- never written: the Worker stopped between the R2 put and the insert).
CREATE OR REPLACE FUNCTION app_files_unknown(p_ids uuid[]) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT i.id FROM unnest(p_ids) AS i(id) WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.id = i.id)
$$;

ALTER FUNCTION app_signed_file(uuid, uuid) OWNER TO app_internal;
ALTER FUNCTION app_signed_upload_actor(uuid, jsonb) OWNER TO app_internal;
ALTER FUNCTION app_signed_upload_claim(uuid, uuid, text) OWNER TO app_internal;
ALTER FUNCTION app_signed_upload_finish(uuid, uuid, text, bigint, text, jsonb, jsonb) OWNER TO app_internal;
ALTER FUNCTION app_signed_upload_discard(uuid, uuid, text, jsonb) OWNER TO app_internal;
ALTER FUNCTION app_files_due(timestamptz, timestamptz, int) OWNER TO app_internal;
ALTER FUNCTION app_file_purge(uuid, timestamptz, timestamptz) OWNER TO app_internal;
ALTER FUNCTION app_files_unknown(uuid[]) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION app_signed_file(uuid, uuid), app_signed_upload_actor(uuid, jsonb), app_signed_upload_claim(uuid, uuid, text), app_signed_upload_finish(uuid, uuid, text, bigint, text, jsonb, jsonb),
  app_signed_upload_discard(uuid, uuid, text, jsonb), app_files_due(timestamptz, timestamptz, int), app_file_purge(uuid, timestamptz, timestamptz), app_files_unknown(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_signed_file(uuid, uuid), app_signed_upload_claim(uuid, uuid, text), app_signed_upload_finish(uuid, uuid, text, bigint, text, jsonb, jsonb),
  app_signed_upload_discard(uuid, uuid, text, jsonb), app_files_due(timestamptz, timestamptz, int), app_file_purge(uuid, timestamptz, timestamptz), app_files_unknown(uuid[]) TO app_runtime;
--> statement-breakpoint
-- src/db/sql/webhooks.sql
-- Outbound webhooks (README, "Webhooks"): the endpoint limit, and the two cross-org questions the cron
-- safety net asks (which orgs have events not yet fanned out, which deliveries were lost on the way).

-- Raises APQUO (→ 403 QUOTA_EXCEEDED, DETAIL {resource, limit, used}) when the org already holds p_limit
-- endpoints (src/lib/limits.ts, WEBHOOK_ENDPOINTS_PER_ORG). Sent in the same batch as the insert, just before
-- it; the org row lock serialises concurrent creates. Runs as its caller, under RLS.
CREATE OR REPLACE FUNCTION app_check_webhook_endpoints(p_org uuid, p_limit int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_used int;
BEGIN
  PERFORM 1 FROM organizations o WHERE o.id = p_org AND o.deleted_at IS NULL FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'organization not found' USING ERRCODE = 'AP404';
  END IF;
  SELECT count(*)::int INTO v_used FROM webhook_endpoints e WHERE e.org_id = p_org;
  IF v_used >= p_limit THEN
    RAISE EXCEPTION 'quota exceeded' USING ERRCODE = 'APQUO',
      DETAIL = jsonb_build_object('resource', 'webhookEndpoints', 'limit', p_limit, 'used', v_used)::text;
  END IF;
END $$;

GRANT SELECT ON webhook_endpoint_states, webhook_messages TO app_internal;
DROP POLICY IF EXISTS internal_read ON webhook_endpoint_states;
CREATE POLICY internal_read ON webhook_endpoint_states FOR SELECT TO app_internal USING (true);
DROP POLICY IF EXISTS internal_read ON webhook_messages;
CREATE POLICY internal_read ON webhook_messages FOR SELECT TO app_internal USING (true);

-- Orgs with an endpoint whose cursor is behind the org's audit chain head: events not yet fanned out.
CREATE OR REPLACE FUNCTION webhook_orgs_behind(p_limit int) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT s.org_id FROM webhook_endpoint_states s JOIN audit_chain_heads h ON h.org_id = s.org_id
  WHERE s.cursor_seq < h.seq LIMIT p_limit
$$;

-- Deliveries due before p_before that are still pending: their queue message was lost (or its attempt's
-- lease ran out), so the cron enqueues them again. The attempt guard makes a duplicate harmless.
CREATE OR REPLACE FUNCTION webhook_stale_messages(p_before timestamptz, p_limit int)
RETURNS TABLE (org_id uuid, id text, attempts int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT m.org_id, m.id, m.attempts FROM webhook_messages m
  WHERE m.status = 'pending' AND m.next_attempt_at < p_before ORDER BY m.next_attempt_at LIMIT p_limit
$$;

ALTER FUNCTION webhook_orgs_behind(int) OWNER TO app_internal;
ALTER FUNCTION webhook_stale_messages(timestamptz, int) OWNER TO app_internal;
REVOKE EXECUTE ON FUNCTION webhook_orgs_behind(int) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION webhook_stale_messages(timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_orgs_behind(int) TO app_runtime;
GRANT EXECUTE ON FUNCTION webhook_stale_messages(timestamptz, int) TO app_runtime;
--> statement-breakpoint
-- src/db/sql/notifications.sql
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
--> statement-breakpoint
-- src/db/sql/usage.sql
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
