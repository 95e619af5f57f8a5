CREATE TABLE `messages` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`kind` text NOT NULL,
	`content` text NOT NULL,
	`metadata` text,
	`client_msg_id` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `messages_session_seq_uq` ON `messages` (`session_id`,`seq`);--> statement-breakpoint
CREATE UNIQUE INDEX `messages_session_user_client_uq` ON `messages` (`session_id`,`user_id`,`client_msg_id`);--> statement-breakpoint
CREATE TABLE `session_participants` (
	`session_id` text NOT NULL,
	`user_id` text NOT NULL,
	`first_seen_at` integer NOT NULL,
	PRIMARY KEY(`session_id`, `user_id`),
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`room` text,
	`owner_id` text NOT NULL,
	`mode` text DEFAULT 'chat' NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`access` text DEFAULT 'private' NOT NULL,
	`members` text DEFAULT '[]' NOT NULL,
	`config` text DEFAULT '{}' NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`last_activity_at` integer NOT NULL,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`message_count` integer DEFAULT 0 NOT NULL,
	`participant_count` integer DEFAULT 0 NOT NULL,
	`duration_ms` integer
);
--> statement-breakpoint
CREATE INDEX `sessions_status_activity_idx` ON `sessions` (`status`,`last_activity_at`);--> statement-breakpoint
CREATE INDEX `sessions_room_started_idx` ON `sessions` (`room`,`started_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `sessions_room_active_uq` ON `sessions` (`room`) WHERE status = 'active' AND room IS NOT NULL;