"""Pseudonymized loading: customer ids replaced by a keyed hash, personal columns never stored.

With a key, every ``customer_id`` (in customers, orders, events) is replaced at load time by
``P`` + the first 20 hex digits of HMAC-SHA256(key, id), computed inside DuckDB, so the same
customer gets the same pseudonym in every table and every later load with the same key, and the
real id cannot be recovered without the key. Columns marked personal in ``ingest.schema`` (name,
email, phone, address) are not read at all, and the raw text of rejected rows carries the
pseudonym, never the id; a malformed CSV line is kept as its file and line number without its text.

The database remembers that it is pseudonymized, and a check value of its key: a later load
without the key, or with another key, is refused, because its ids would not join.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

import duckdb

from duckdb_clv.ingest.errors import LoadError

KEY_ENV = "CLV_PSEUDONYM_KEY"
MIN_KEY_LENGTH = 16
BLOCK = 64  # SHA-256 block size, for HMAC's inner and outer keys
CHECK_MESSAGE = b"duckdb-clv pseudonym key check"


@dataclass(frozen=True)
class Pseudonymizer:
    """HMAC-SHA256 of ids with a secret key, as a SQL expression."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_LENGTH:
            raise LoadError(f"the pseudonym key must be at least {MIN_KEY_LENGTH} characters; set a longer {KEY_ENV}")

    def _pads(self) -> tuple[str, str]:
        key = hashlib.sha256(self.key).digest() if len(self.key) > BLOCK else self.key
        key = key.ljust(BLOCK, b"\0")
        inner = bytes(b ^ 0x36 for b in key).hex()
        outer = bytes(b ^ 0x5C for b in key).hex()
        return inner, outer

    def sql(self, expr: str) -> str:
        """SQL giving the pseudonym of the VARCHAR ``expr`` (NULL stays NULL)."""
        inner, outer = self._pads()
        digest = f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || CAST({expr} AS BLOB))))"
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE 'P' || upper(substr({digest}, 1, 20)) END"

    def pseudonym(self, value: str) -> str:
        """The pseudonym of one id, computed in Python (for users mapping their own lists)."""
        return "P" + hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()[:20].upper()

    def check_value(self) -> str:
        """A value that identifies the key without revealing it."""
        return hmac.new(self.key, CHECK_MESSAGE, hashlib.sha256).hexdigest()


def from_environment() -> Pseudonymizer:
    """The pseudonymizer keyed by ``$CLV_PSEUDONYM_KEY``, or a one-line error saying how to set it."""
    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise LoadError(
            f"--pseudonymize needs a secret key in the environment: export {KEY_ENV}=... "
            f"(at least {MIN_KEY_LENGTH} characters; keep it, later loads need the same key)"
        )
    return Pseudonymizer(key.encode())


def check_database(con: duckdb.DuckDBPyConnection, pseudonymizer: Pseudonymizer | None) -> None:
    """Refuse a load whose ids would not join the ids already in the database; record the first."""
    con.execute("CREATE TABLE IF NOT EXISTS raw.pseudonymization (key_check VARCHAR)")
    rows = con.execute("SELECT key_check FROM raw.pseudonymization").fetchall()
    has_data = con.execute("SELECT count(*) FROM raw.orders").fetchall()[0][0] > 0
    check = pseudonymizer.check_value() if pseudonymizer else None
    if rows:
        if check is None:
            raise LoadError(f"this database holds pseudonymized ids: load with --pseudonymize and the same {KEY_ENV}")
        if rows[0][0] != check:
            raise LoadError(
                f"{KEY_ENV} is not the key this database was pseudonymized with: use that key, "
                "or load into a new database"
            )
        return
    if check is not None:
        if has_data:
            raise LoadError("this database already holds real ids: pseudonymize into a new database (--db)")
        con.execute("INSERT INTO raw.pseudonymization VALUES (?)", [check])
