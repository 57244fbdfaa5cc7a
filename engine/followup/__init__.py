"""Following work up: timelines of stored tasks, the deadline sweep, notices, the outbox and its delivery."""
