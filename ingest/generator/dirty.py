"""Realistic faults for ``--dirty``: what goes wrong in real order exports, at known rates.

Each fault hits a disjoint set of order rows, so every faulty row has exactly one cause and the
manifest written beside the data (``faults.json``) says which order ids carry which fault and
which loader rule should catch it. Faults that a loader should repair rather than reject
(stray whitespace and mixed case in ids) are listed with rule ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# fault -> (share of order rows, loader rule expected to reject it or None when repaired)
ORDER_FAULTS: dict[str, tuple[float, str | None]] = {
    "duplicate_order": (0.005, "duplicate_key"),
    "null_customer_id": (0.002, "missing_customer_id"),
    "unknown_customer_id": (0.002, "unknown_customer_id"),
    "unparseable_date": (0.002, "invalid_ordered_at"),
    "negative_amount": (0.001, "negative_amount"),
    "non_numeric_amount": (0.001, "invalid_amount"),
    "order_after_end": (0.001, "ordered_at_in_future"),
    "messy_customer_id": (0.01, None),
}
CSV_FAULTS: dict[str, tuple[float, str | None]] = {
    "malformed_csv_line": (0.0005, "malformed_csv_line"),
}
BAD_DATES = ("2023-02-30 10:00:00", "not a date", "31/31/2023", "2024-13-01", "yesterday", "0000-00-00")
BAD_AMOUNTS = ("N/A", "abc", "--", "twelve", "1.2.3", "#VALUE!")


@dataclass
class FaultLog:
    """Which order ids received which fault, accumulated over chunks."""

    order_ids: dict[str, list[str]]

    @classmethod
    def empty(cls, csv: bool) -> FaultLog:
        names = list(ORDER_FAULTS) + (list(CSV_FAULTS) if csv else [])
        return cls({name: [] for name in names})

    def manifest(self) -> dict[str, object]:
        """The JSON manifest: rates, expected rules, counts and the affected order ids."""
        table = {**ORDER_FAULTS, **CSV_FAULTS}
        return {
            name: {
                "rate": table[name][0],
                "expected_rule": table[name][1],
                "rows": len(ids),
                "order_ids": ids,
            }
            for name, ids in self.order_ids.items()
        }


def dirty_orders(
    orders: pa.Table, total_customers: int, end_day_us: int, rng: np.random.Generator, log: FaultLog
) -> tuple[pa.Table, set[str]]:
    """Inject the order faults into one chunk and record them in ``log``.

    Returns the dirty chunk and the order ids faulted in it (so later faults can spare them).

    Dirty exports are text: ``ordered_at`` and ``amount`` become strings, as they would in a
    spreadsheet-made file, so that unparseable values can exist at all.
    """
    n = orders.num_rows
    counts = {name: rng.binomial(n, rate) for name, (rate, _) in ORDER_FAULTS.items()}
    rows = rng.permutation(n)
    picked: dict[str, np.ndarray] = {}
    at = 0
    for name, count in counts.items():
        picked[name] = np.sort(rows[at : at + count])
        at += count

    order_id = orders["order_id"].combine_chunks()
    customer = pc.cast(orders["customer_id"], pa.string()).to_numpy(zero_copy_only=False).astype(object)
    ordered_at = (
        pc.strftime(orders["ordered_at"], format="%Y-%m-%d %H:%M:%S").to_numpy(zero_copy_only=False).astype(object)
    )
    amount = np.array([f"{a:.2f}" for a in orders["amount"].to_numpy()], dtype=object)

    customer[picked["null_customer_id"]] = None
    unknown = total_customers + 1 + rng.integers(0, 10**6, size=picked["unknown_customer_id"].size)
    customer[picked["unknown_customer_id"]] = [f"C{u:08d}X" for u in unknown]
    ordered_at[picked["unparseable_date"]] = rng.choice(BAD_DATES, size=picked["unparseable_date"].size)
    neg = picked["negative_amount"]
    amount[neg] = [f"-{a}" for a in amount[neg]]
    amount[picked["non_numeric_amount"]] = rng.choice(BAD_AMOUNTS, size=picked["non_numeric_amount"].size)
    late = picked["order_after_end"]
    years = rng.integers(10, 31, size=late.size)
    future = np.datetime64(end_day_us, "us") + (years * 365).astype("timedelta64[D]")
    ordered_at[late] = [str(t)[:19].replace("T", " ") for t in future]
    messy = picked["messy_customer_id"]
    style = rng.integers(0, 3, size=messy.size)
    customer[messy] = [
        f"  {c} " if s == 0 else (c.lower() if s == 1 else f"{c[0].lower()}{c[1:]}\t")
        for c, s in zip(customer[messy], style, strict=True)
    ]

    faulted: set[str] = set()
    for name, idx in picked.items():
        ids = order_id.take(pa.array(idx)).to_pylist()
        faulted.update(ids)
        log.order_ids[name].extend(ids)
    dirty = pa.table(
        {
            "order_id": order_id,
            "customer_id": pa.array(customer, type=pa.string()),
            "ordered_at": pa.array(ordered_at, type=pa.string()),
            "amount": pa.array(amount, type=pa.string()),
            "discount": orders["discount"],
            "currency": pc.cast(orders["currency"], pa.string()),
        }
    )
    dupes = picked["duplicate_order"]
    # Duplicates sit right after their original, as a double-submitted export would have them.
    position = np.concatenate([np.arange(n), dupes]).astype(np.float64)
    position[n:] += 0.5
    with_dupes = pa.concat_tables([dirty, dirty.take(pa.array(dupes))])
    return with_dupes.take(pa.array(np.argsort(position, kind="stable"))), faulted


def malform_csv_lines(lines: list[bytes], order_ids: list[str], rng: np.random.Generator, log: FaultLog) -> list[bytes]:
    """Break a few CSV data lines as hand-edited files break: a field too many, too few, a stray quote.

    ``lines`` excludes the header; ``order_ids`` gives each line's order id (None for lines that
    must stay intact, such as duplicates whose twin would then be the one that loads).
    """
    rate = CSV_FAULTS["malformed_csv_line"][0]
    candidates = np.array([i for i, oid in enumerate(order_ids) if oid is not None], dtype=np.int64)
    count = min(rng.binomial(len(lines), rate), candidates.size)
    chosen = np.sort(rng.choice(candidates, size=count, replace=False)) if count else candidates[:0]
    for i in chosen:
        line = lines[i].rstrip(b"\n")
        kind = rng.integers(0, 3)
        if kind == 0:
            line = line + b',"stray field"'
        elif kind == 1:
            line = b",".join(line.split(b",")[:2])
        else:
            fields = line.split(b",")
            fields[1] = fields[1] + b'x"'
            line = b",".join(fields)
        lines[i] = line + b"\n"
        log.order_ids["malformed_csv_line"].append(order_ids[i])
    return lines
