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
