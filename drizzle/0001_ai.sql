CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`message_id` text NOT NULL,
	`user_id` text NOT NULL,
	`risk_level` text NOT NULL,
	`triggers` text NOT NULL,
	`recommended_action` text NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`created_at` integer NOT NULL,
	`acknowledged_by` text,
	`acknowledged_at` integer,
	`resolved_by` text,
	`resolved_at` integer,
	`note` text,
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_session_seq_uq` ON `alerts` (`session_id`,`seq`);--> statement-breakpoint
CREATE INDEX `alerts_status_created_idx` ON `alerts` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `alerts_created_idx` ON `alerts` (`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `assistant_streams` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`reply_to` integer NOT NULL,
	`user_id` text NOT NULL,
	`model` text NOT NULL,
	`started_at` integer NOT NULL,
	`text` text DEFAULT '' NOT NULL,
	`reasoning` text DEFAULT '' NOT NULL,
	`saved_at` integer NOT NULL,
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `assistant_streams_session_idx` ON `assistant_streams` (`session_id`);--> statement-breakpoint
CREATE TABLE `message_analyses` (
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`message_id` text NOT NULL,
	`analysis` text NOT NULL,
	`risk_level` text NOT NULL,
	`sentiment` real NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`session_id`, `seq`),
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `sessiond_meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `sessions` ADD `analysis` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `assistant` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `end_on_disconnect` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `analyzed_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `sentiment_sum` real DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `risk_level` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `assistant_messages` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `response_time_sum_ms` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `response_time_count` integer DEFAULT 0 NOT NULL;