/// PostgreSQL access over libpq.
public enum Postgres {}
