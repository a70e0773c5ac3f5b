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
