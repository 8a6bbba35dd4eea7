-- AlterTable
ALTER TABLE "face_enrolments" ADD COLUMN     "erased_at" TIMESTAMPTZ(3),
ALTER COLUMN "photo_sealed" DROP NOT NULL;

-- AlterTable
ALTER TABLE "face_match_selfies" ADD COLUMN     "erased_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "orgs" ADD COLUMN     "retain_raw_days" INTEGER,
ADD COLUMN     "retain_selfies_days" INTEGER;

-- AlterTable
ALTER TABLE "verifications" ADD COLUMN     "raw_erased_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "erasure_records" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "customer_id" TEXT,
    "trigger" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "photos" INTEGER NOT NULL,
    "templates" INTEGER NOT NULL,
    "selfies" INTEGER NOT NULL,
    "raw" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "erasure_records_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "job_leases" (
    "name" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "job_leases_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "erasure_records_created_at_idx" ON "erasure_records"("created_at");

-- CreateIndex
CREATE INDEX "erasure_records_customer_id_created_at_idx" ON "erasure_records"("customer_id", "created_at");

-- Erasure (README "Erasure and retention"): the biometric and raw content goes, the decision record stays.
-- The triggers below allow exactly the changes erasure, key rotation, superseding and re-templating make, and
-- refuse every other UPDATE, and every DELETE and TRUNCATE, of the rows that hold or describe that content.

-- verifications: the two allowed changes are re-sealing raw under a new key (rotation) and clearing raw by
-- erasure, together with the time it was erased; nothing else in the row may change, and an erased envelope
-- never comes back.
DROP TRIGGER verifications_no_update ON "verifications";
DROP FUNCTION qe_verifications_rewrap_only();
CREATE FUNCTION qe_verifications_rewrap_or_erase() RETURNS trigger AS $$
BEGIN
  IF (to_jsonb(NEW) - 'raw_sealed' - 'raw_erased_at') IS NOT DISTINCT FROM (to_jsonb(OLD) - 'raw_sealed' - 'raw_erased_at') THEN
    IF OLD.raw_sealed IS NOT NULL AND NEW.raw_sealed IS NOT NULL AND NEW.raw_erased_at IS NOT DISTINCT FROM OLD.raw_erased_at THEN
      RETURN NEW; -- re-sealed (key rotation)
    END IF;
    IF OLD.raw_sealed IS NOT NULL AND NEW.raw_sealed IS NULL AND OLD.raw_erased_at IS NULL AND NEW.raw_erased_at IS NOT NULL THEN
      RETURN NEW; -- erased
    END IF;
  END IF;
  RAISE EXCEPTION 'verifications rows are immutable: UPDATE refused (only re-sealing raw_sealed, or erasing it with raw_erased_at, is allowed)'
    USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER verifications_no_update BEFORE UPDATE ON "verifications"
  FOR EACH ROW EXECUTE FUNCTION qe_verifications_rewrap_or_erase();

-- face_enrolments: superseded once, re-templated, re-sealed, or erased (photo and template together, for
-- good). The reference's identity and description never change. Columns are named (not to_jsonb(row)) so a
-- supersede does not hex-encode a 5 MiB photo; a new descriptive column must be added to the list.
CREATE FUNCTION qe_face_enrolments_guard() RETURNS trigger AS $$
BEGIN
  IF ROW(NEW.id, NEW.org_id, NEW.customer_id, NEW.verification_id, NEW.source, NEW.media_type, NEW.width, NEW.height, NEW.created_at)
     IS DISTINCT FROM ROW(OLD.id, OLD.org_id, OLD.customer_id, OLD.verification_id, OLD.source, OLD.media_type, OLD.width, OLD.height, OLD.created_at)
     OR (OLD.superseded_by_id IS NOT NULL AND NEW.superseded_by_id IS DISTINCT FROM OLD.superseded_by_id)
     OR (OLD.superseded_at IS NOT NULL AND NEW.superseded_at IS DISTINCT FROM OLD.superseded_at) THEN
    RAISE EXCEPTION 'face_enrolments rows are immutable: UPDATE refused (only superseding, re-templating, re-sealing and erasure may change one)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.erased_at IS NOT NULL THEN
    -- being erased, or erased already: no content, the erasure time fixed, the template's description kept
    IF NEW.photo_sealed IS NOT NULL OR NEW.template_sealed IS NOT NULL
       OR (OLD.erased_at IS NOT NULL AND NEW.erased_at IS DISTINCT FROM OLD.erased_at)
       OR ROW(NEW.template_model, NEW.fallback_stub, NEW.fallback_cause) IS DISTINCT FROM ROW(OLD.template_model, OLD.fallback_stub, OLD.fallback_cause) THEN
      RAISE EXCEPTION 'face_enrolments rows are immutable: UPDATE refused (an erased enrolment keeps no photo or template, and its record stays as erased)'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  ELSIF OLD.erased_at IS NOT NULL OR NEW.photo_sealed IS NULL THEN
    RAISE EXCEPTION 'face_enrolments rows are immutable: UPDATE refused (a photo is removed only by erasure, and an erasure is never undone)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER face_enrolments_guard BEFORE UPDATE ON "face_enrolments"
  FOR EACH ROW EXECUTE FUNCTION qe_face_enrolments_guard();

-- face_match_selfies: re-sealed (rotation) or erased, nothing else.
CREATE FUNCTION qe_face_match_selfies_guard() RETURNS trigger AS $$
BEGIN
  IF ROW(NEW.verification_id, NEW.org_id, NEW.customer_id, NEW.media_type, NEW.width, NEW.height, NEW.created_at)
     IS NOT DISTINCT FROM ROW(OLD.verification_id, OLD.org_id, OLD.customer_id, OLD.media_type, OLD.width, OLD.height, OLD.created_at) THEN
    IF OLD.erased_at IS NULL AND NEW.erased_at IS NULL AND OLD.selfie_sealed IS NOT NULL AND NEW.selfie_sealed IS NOT NULL THEN
      RETURN NEW; -- re-sealed (key rotation)
    END IF;
    IF OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL AND NEW.selfie_sealed IS NULL THEN
      RETURN NEW; -- erased
    END IF;
  END IF;
  RAISE EXCEPTION 'face_match_selfies rows are immutable: UPDATE refused (only re-sealing selfie_sealed, or erasing it with erased_at, is allowed)'
    USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER face_match_selfies_guard BEFORE UPDATE ON "face_match_selfies"
  FOR EACH ROW EXECUTE FUNCTION qe_face_match_selfies_guard();

-- Rows describing biometric content are never deleted (erasure clears the content, the row stays), and the
-- erasure records themselves are evidence.
CREATE TRIGGER face_enrolments_no_delete BEFORE DELETE ON "face_enrolments"
  FOR EACH ROW EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER face_match_selfies_no_delete BEFORE DELETE ON "face_match_selfies"
  FOR EACH ROW EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER erasure_records_no_change BEFORE UPDATE OR DELETE ON "erasure_records"
  FOR EACH ROW EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER face_enrolments_no_truncate BEFORE TRUNCATE ON "face_enrolments"
  FOR EACH STATEMENT EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER face_match_selfies_no_truncate BEFORE TRUNCATE ON "face_match_selfies"
  FOR EACH STATEMENT EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER erasure_records_no_truncate BEFORE TRUNCATE ON "erasure_records"
  FOR EACH STATEMENT EXECUTE FUNCTION qe_refuse_change();
