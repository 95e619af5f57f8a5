CREATE TABLE "archive_jobs" (
	"session_id" text PRIMARY KEY NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"last_error" text,
	"path" text,
	"created_at" bigint NOT NULL,
	"written_at" bigint,
	"claimed_by" text,
	"lease_until" bigint
);
--> statement-breakpoint
ALTER TABLE "archive_jobs" ADD CONSTRAINT "archive_jobs_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "archive_jobs_pending_idx" ON "archive_jobs" USING btree ("next_attempt_at") WHERE status = 'pending';
