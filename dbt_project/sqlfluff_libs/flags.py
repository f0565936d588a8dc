"""Stand-in for dbt's `flags` when sqlfluff renders models."""

FULL_REFRESH = False
