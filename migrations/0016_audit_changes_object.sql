-- NOT VALID: no scan of the existing log under this migration's lock. Every entry so far was written by
-- audit_row_change (src/db/sql/audit.sql), whose audit_changes always answers an object; new entries are checked.
ALTER TABLE "audit_logs" ADD CONSTRAINT "audit_logs_changes_object" CHECK (jsonb_typeof("audit_logs"."changes") = 'object') NOT VALID;
