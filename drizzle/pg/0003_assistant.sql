CREATE TABLE "assistant_streams" (
	"id" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"reply_to" bigint NOT NULL,
	"user_id" text NOT NULL,
	"model" text NOT NULL,
	"started_at" bigint NOT NULL,
	"text" text DEFAULT '' NOT NULL,
	"reasoning" text DEFAULT '' NOT NULL,
	"saved_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "assistant_streams" ADD CONSTRAINT "assistant_streams_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "assistant_streams_session_idx" ON "assistant_streams" USING btree ("session_id");