"""Checks that two Parquet files hold the same rows in the same order, whatever their encoding
(dictionary, statistics, compression, page and row-group sizes): DuckDB `EXCEPT ALL` both ways
on the rows numbered in file order, and equal row counts. Exit 0 when equal, 1 otherwise.

Usage: same_rows.py A.parquet B.parquet
Used to check a change of the canonical writer's settings (docs/benchmarks.md).
"""
import sys

import duckdb

a, b = sys.argv[1], sys.argv[2]
con = duckdb.connect()
# Single-threaded so `row_number() OVER ()` numbers rows in file order.
con.execute("SET threads = 1")
con.execute("SET preserve_insertion_order = true")
for name, path in (("a", a), ("b", b)):
    lit = "'" + path.replace("'", "''") + "'"
    con.execute(
        f"CREATE TEMP TABLE {name} AS SELECT row_number() OVER () AS row_in_file, * "
        f"FROM read_parquet({lit})"
    )
n_a = con.execute("SELECT count(*) FROM a").fetchone()[0]
n_b = con.execute("SELECT count(*) FROM b").fetchone()[0]
only_a = con.execute("SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)").fetchone()[0]
only_b = con.execute("SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)").fetchone()[0]
print(f"{a}: {n_a} rows; {b}: {n_b} rows; only in the first: {only_a}; only in the second: {only_b}")
sys.exit(0 if n_a == n_b and only_a == 0 and only_b == 0 else 1)
