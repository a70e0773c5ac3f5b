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
