-- AlterTable
ALTER TABLE "orgs" ADD COLUMN     "face_match_threshold" INTEGER;

-- AlterTable
ALTER TABLE "verifications" ADD COLUMN     "match_model" TEXT,
ADD COLUMN     "match_threshold" INTEGER,
ADD COLUMN     "reference_enrolment_id" TEXT;

-- CreateTable
CREATE TABLE "face_match_selfies" (
    "verification_id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "selfie_sealed" BYTEA,
    "media_type" TEXT NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "face_match_selfies_pkey" PRIMARY KEY ("verification_id")
);

-- CreateIndex
CREATE INDEX "face_match_selfies_customer_id_idx" ON "face_match_selfies"("customer_id");

-- CreateIndex
CREATE INDEX "face_match_selfies_org_id_created_at_idx" ON "face_match_selfies"("org_id", "created_at");

-- AddForeignKey
ALTER TABLE "verifications" ADD CONSTRAINT "verifications_reference_enrolment_id_fkey" FOREIGN KEY ("reference_enrolment_id") REFERENCES "face_enrolments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "face_match_selfies" ADD CONSTRAINT "face_match_selfies_verification_id_fkey" FOREIGN KEY ("verification_id") REFERENCES "verifications"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
