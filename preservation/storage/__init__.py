"""The database edge: the SQLModel tables, the async engine and its sessions, SQLite's inline
single writer, lease claims (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional UPDATE on
SQLite) and the Alembic migrations.

Owns the schema (changed only through migrations) and the translation of driver errors into
`preservation.errors`. May import `preservation.domain` and `preservation.errors`; never a use
case, the web or the CLI."""
