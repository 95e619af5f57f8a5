CREATE TABLE "messages" (
	"id" text NOT NULL,
	"session_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"user_id" text NOT NULL,
	"role" text NOT NULL,
	"kind" text NOT NULL,
	"content" text NOT NULL,
	"metadata" text,
	"client_msg_id" text,
	"created_at" bigint NOT NULL,
	"erased_at" bigint,
	CONSTRAINT "messages_session_id_seq_pk" PRIMARY KEY("session_id","seq")
);
--> statement-breakpoint
CREATE TABLE "session_participants" (
	"session_id" text NOT NULL,
	"user_id" text NOT NULL,
	"first_seen_at" bigint NOT NULL,
	CONSTRAINT "session_participants_session_id_user_id_pk" PRIMARY KEY("session_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"room" text,
	"owner_id" text NOT NULL,
	"mode" text DEFAULT 'chat' NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"access" text DEFAULT 'private' NOT NULL,
	"members" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"config" text DEFAULT '{}' NOT NULL,
	"started_at" bigint NOT NULL,
	"ended_at" bigint,
	"last_activity_at" bigint NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"message_count" bigint DEFAULT 0 NOT NULL,
	"participant_count" integer DEFAULT 0 NOT NULL,
	"duration_ms" bigint,
	"analysis" text,
	"assistant" text,
	"end_on_disconnect" text,
	"analyzed_count" bigint DEFAULT 0 NOT NULL,
	"sentiment_sum" double precision DEFAULT 0 NOT NULL,
	"risk_level" text,
	"assistant_messages" bigint DEFAULT 0 NOT NULL,
	"response_time_sum_ms" bigint DEFAULT 0 NOT NULL,
	"response_time_count" bigint DEFAULT 0 NOT NULL,
	"retention_days" integer
);
--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_participants" ADD CONSTRAINT "session_participants_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "messages_session_user_client_uq" ON "messages" USING btree ("session_id","user_id","client_msg_id") WHERE client_msg_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "sessions_status_activity_idx" ON "sessions" USING btree ("status","last_activity_at");--> statement-breakpoint
CREATE INDEX "sessions_room_started_idx" ON "sessions" USING btree ("room","started_at");--> statement-breakpoint
CREATE INDEX "sessions_started_idx" ON "sessions" USING btree ("started_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_room_active_uq" ON "sessions" USING btree ("room") WHERE status = 'active' AND room IS NOT NULL;