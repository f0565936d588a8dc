"""Stand-in for dbt's `target` when sqlfluff renders models."""

database = "clv"
schema = "main"
