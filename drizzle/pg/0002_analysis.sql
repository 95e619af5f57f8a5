CREATE TABLE "alerts" (
	"id" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"message_id" text NOT NULL,
	"user_id" text NOT NULL,
	"risk_level" text NOT NULL,
	"triggers" text NOT NULL,
	"recommended_action" text NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"created_at" bigint NOT NULL,
	"acknowledged_by" text,
	"acknowledged_at" bigint,
	"resolved_by" text,
	"resolved_at" bigint,
	"note" text
);
--> statement-breakpoint
CREATE TABLE "message_analyses" (
	"session_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"message_id" text NOT NULL,
	"analysis" text NOT NULL,
	"risk_level" text NOT NULL,
	"sentiment" double precision NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "message_analyses_session_id_seq_pk" PRIMARY KEY("session_id","seq")
);
--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_analyses" ADD CONSTRAINT "message_analyses_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_session_seq_uq" ON "alerts" USING btree ("session_id","seq");--> statement-breakpoint
CREATE INDEX "alerts_status_created_idx" ON "alerts" USING btree ("status","created_at","id");--> statement-breakpoint
CREATE INDEX "alerts_session_created_idx" ON "alerts" USING btree ("session_id","created_at","id");--> statement-breakpoint
CREATE INDEX "alerts_created_idx" ON "alerts" USING btree ("created_at","id");