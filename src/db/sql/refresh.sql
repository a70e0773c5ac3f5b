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
