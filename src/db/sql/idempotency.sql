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
