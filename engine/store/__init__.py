"""Storage: the tables, connections, Alembic migrations, driver-level batch writes and the append-only audit log."""
