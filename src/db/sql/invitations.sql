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
