"""Jobs: one admin action with progress (job), where jobs live (stores: SQLite embedded,
Redis in server mode), the work behind the file tasks (runner), and the task names."""
