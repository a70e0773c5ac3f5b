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
