-- Messages keyed by (session_id, seq) in a WITHOUT ROWID table (drizzle-kit cannot express the clause, so it is
-- written here by hand): an insert writes the rows' b-tree and, only for a message with a client id, the idempotency
-- index, instead of four b-trees.
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_messages` (
	`id` text NOT NULL,
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`kind` text NOT NULL,
	`content` text NOT NULL,
	`metadata` text,
	`client_msg_id` text,
	`created_at` integer NOT NULL,
	`erased_at` integer,
	PRIMARY KEY(`session_id`, `seq`),
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_messages`("id", "session_id", "seq", "user_id", "role", "kind", "content", "metadata", "client_msg_id", "created_at", "erased_at") SELECT "id", "session_id", "seq", "user_id", "role", "kind", "content", "metadata", "client_msg_id", "created_at", "erased_at" FROM `messages` ORDER BY "session_id", "seq";--> statement-breakpoint
DROP TABLE `messages`;--> statement-breakpoint
ALTER TABLE `__new_messages` RENAME TO `messages`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `messages_session_user_client_uq` ON `messages` (`session_id`,`user_id`,`client_msg_id`) WHERE client_msg_id IS NOT NULL;