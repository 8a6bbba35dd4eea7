-- CreateEnum
CREATE TYPE "KycTier" AS ENUM ('none', 'basic', 'standard', 'premium');

-- CreateEnum
CREATE TYPE "VerificationMethod" AS ENUM ('nik_format', 'nik_dukcapil', 'ktp_capture', 'face_liveness', 'face_match');

-- CreateEnum
CREATE TYPE "VerificationStatus" AS ENUM ('verified', 'failed');

-- CreateEnum
CREATE TYPE "EnrolmentSource" AS ENUM ('dukcapil', 'ktp_extract', 'onboarding_selfie', 'step_up_promotion');

-- CreateEnum
CREATE TYPE "KeyEnv" AS ENUM ('sandbox', 'live');

-- CreateTable
CREATE TABLE "orgs" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "dukcapil_enabled" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "orgs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "org_rate_limits" (
    "org_id" TEXT NOT NULL,
    "bucket" TEXT NOT NULL,
    "per_minute" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "org_rate_limits_pkey" PRIMARY KEY ("org_id","bucket")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "name" TEXT,
    "env" "KeyEnv" NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" BYTEA NOT NULL,
    "scopes" TEXT[],
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "customers" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "external_ref" TEXT,
    "kyc_tier" "KycTier" NOT NULL DEFAULT 'none',
    "kyc_last_verified_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "customers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "verifications" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "method" "VerificationMethod" NOT NULL,
    "status" "VerificationStatus" NOT NULL,
    "score" INTEGER,
    "reason" TEXT,
    "raw_sealed" BYTEA,
    "api_key_id" TEXT,
    "request_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "verifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "face_enrolments" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "verification_id" TEXT,
    "source" "EnrolmentSource" NOT NULL,
    "photo_sealed" BYTEA NOT NULL,
    "media_type" TEXT NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "fallback_stub" BOOLEAN NOT NULL DEFAULT true,
    "fallback_cause" TEXT,
    "template_sealed" BYTEA,
    "template_model" TEXT,
    "superseded_by_id" TEXT,
    "superseded_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "face_enrolments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tier_events" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "from_tier" "KycTier" NOT NULL,
    "to_tier" "KycTier" NOT NULL,
    "reason" TEXT NOT NULL,
    "verification_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tier_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys"("hash");

-- CreateIndex
CREATE INDEX "api_keys_org_id_idx" ON "api_keys"("org_id");

-- CreateIndex
CREATE INDEX "customers_org_id_created_at_idx" ON "customers"("org_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "customers_org_id_external_ref_key" ON "customers"("org_id", "external_ref");

-- CreateIndex
CREATE INDEX "verifications_customer_id_created_at_idx" ON "verifications"("customer_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "verifications_org_id_created_at_id_idx" ON "verifications"("org_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "verifications_org_id_method_created_at_id_idx" ON "verifications"("org_id", "method", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "face_enrolments_customer_id_source_superseded_at_idx" ON "face_enrolments"("customer_id", "source", "superseded_at");

-- CreateIndex
CREATE INDEX "face_enrolments_verification_id_idx" ON "face_enrolments"("verification_id");

-- CreateIndex
CREATE INDEX "tier_events_customer_id_created_at_idx" ON "tier_events"("customer_id", "created_at");

-- CreateIndex
CREATE INDEX "tier_events_verification_id_idx" ON "tier_events"("verification_id");

-- AddForeignKey
ALTER TABLE "org_rate_limits" ADD CONSTRAINT "org_rate_limits_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customers" ADD CONSTRAINT "customers_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "verifications" ADD CONSTRAINT "verifications_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "verifications" ADD CONSTRAINT "verifications_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "face_enrolments" ADD CONSTRAINT "face_enrolments_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "face_enrolments" ADD CONSTRAINT "face_enrolments_verification_id_fkey" FOREIGN KEY ("verification_id") REFERENCES "verifications"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tier_events" ADD CONSTRAINT "tier_events_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tier_events" ADD CONSTRAINT "tier_events_verification_id_fkey" FOREIGN KEY ("verification_id") REFERENCES "verifications"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
