-- Verifications, tier events and audit-access records are evidence: once written they cannot be changed or
-- deleted. The one exception is re-sealing a verification's raw envelope under a new sealing key (key
-- rotation, `admin keys rewrap`): the ciphertext may change, nothing else may.

CREATE OR REPLACE FUNCTION qe_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% rows are immutable: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION qe_verifications_rewrap_only() RETURNS trigger AS $$
BEGIN
  IF (to_jsonb(NEW) - 'raw_sealed') IS DISTINCT FROM (to_jsonb(OLD) - 'raw_sealed')
     OR (OLD.raw_sealed IS NULL) <> (NEW.raw_sealed IS NULL) THEN
    RAISE EXCEPTION 'verifications rows are immutable: UPDATE refused (only re-sealing raw_sealed is allowed)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER verifications_no_update BEFORE UPDATE ON "verifications"
  FOR EACH ROW EXECUTE FUNCTION qe_verifications_rewrap_only();
CREATE TRIGGER verifications_no_delete BEFORE DELETE ON "verifications"
  FOR EACH ROW EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER tier_events_no_change BEFORE UPDATE OR DELETE ON "tier_events"
  FOR EACH ROW EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER audit_accesses_no_change BEFORE UPDATE OR DELETE ON "audit_accesses"
  FOR EACH ROW EXECUTE FUNCTION qe_refuse_change();
-- TRUNCATE bypasses row triggers: refuse it too.
CREATE TRIGGER verifications_no_truncate BEFORE TRUNCATE ON "verifications"
  FOR EACH STATEMENT EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER tier_events_no_truncate BEFORE TRUNCATE ON "tier_events"
  FOR EACH STATEMENT EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER audit_accesses_no_truncate BEFORE TRUNCATE ON "audit_accesses"
  FOR EACH STATEMENT EXECUTE FUNCTION qe_refuse_change();
