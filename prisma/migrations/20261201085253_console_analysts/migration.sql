-- CreateTable
CREATE TABLE "analysts" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "password_hash" TEXT NOT NULL,
    "disabled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "analysts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "console_sessions" (
    "id" TEXT NOT NULL,
    "analyst_id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "token_hash" BYTEA NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "ip" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "console_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "console_sign_in_events" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "analyst_id" TEXT,
    "org_id" TEXT,
    "cause" TEXT,
    "ip" TEXT NOT NULL,
    "user_agent" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "console_sign_in_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "analysts_email_key" ON "analysts"("email");

-- CreateIndex
CREATE INDEX "analysts_org_id_idx" ON "analysts"("org_id");

-- CreateIndex
CREATE UNIQUE INDEX "console_sessions_token_hash_key" ON "console_sessions"("token_hash");

-- CreateIndex
CREATE INDEX "console_sessions_analyst_id_idx" ON "console_sessions"("analyst_id");

-- CreateIndex
CREATE INDEX "console_sessions_expires_at_idx" ON "console_sessions"("expires_at");

-- CreateIndex
CREATE INDEX "console_sign_in_events_email_created_at_idx" ON "console_sign_in_events"("email", "created_at");

-- CreateIndex
CREATE INDEX "console_sign_in_events_ip_created_at_idx" ON "console_sign_in_events"("ip", "created_at");

-- CreateIndex
CREATE INDEX "console_sign_in_events_analyst_id_created_at_idx" ON "console_sign_in_events"("analyst_id", "created_at");

-- AddForeignKey
ALTER TABLE "analysts" ADD CONSTRAINT "analysts_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_analyst_id_fkey" FOREIGN KEY ("analyst_id") REFERENCES "analysts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Console sign-in records are evidence like verifications and audit accesses: never changed, never deleted
-- (qe_refuse_change is the immutable_records migration's).
CREATE TRIGGER console_sign_in_events_no_change BEFORE UPDATE OR DELETE ON "console_sign_in_events"
  FOR EACH ROW EXECUTE FUNCTION qe_refuse_change();
CREATE TRIGGER console_sign_in_events_no_truncate BEFORE TRUNCATE ON "console_sign_in_events"
  FOR EACH STATEMENT EXECUTE FUNCTION qe_refuse_change();
