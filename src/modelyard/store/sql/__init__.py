"""The SQL metadata store, one implementation for SQLite and PostgreSQL."""
