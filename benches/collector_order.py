"""Rewrite a canalyst DATASET's spans into the row order an ingest of OpenTelemetry Collector
batch lines gives: the same spans, interleaved as the Collector's batch processor concatenates
them. `canalyst ingest OUT.parquet -o DATASET` then makes the Collector-shaped DATASET (canalyst
reads its own schema back, keeping the row order).

Rule (the Collector shape of issue 14, as benches/shapes.py writes JSON lines): per resource
(service, version, track, k8s.pod.name), a piece of 1-21 spans (seeded) joins the current line
when complete; a line holds 28 pieces, so ~28 resources and ~310 spans per line. `source_line`
becomes the line number.

A DATASET of spans schema version 2 stores each resource once (`resource_id` in spans.parquet,
the attributes in resources.parquet): a resource is then its `resource_id`, and resources.parquet
is copied beside OUT.parquet, where `canalyst ingest` looks for it.

Usage: collector_order.py IN_DATASET OUT.parquet [SEED]   (deterministic for a seed)
Memory: the whole table (about 4 GB for 10M spans).
"""
import os
import random
import shutil
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

src, out = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
rng = random.Random(seed)
table = pq.read_table(os.path.join(src, "spans.parquet"))
n = table.num_rows


def codes(col):
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return pc.dictionary_encode(col).indices.fill_null(-1).to_pylist()


if "resource_id" in table.column_names:
    keys = codes(table["resource_id"])
    shutil.copyfile(os.path.join(src, "resources.parquet"),
                    os.path.join(os.path.dirname(os.path.abspath(out)), "resources.parquet"))
else:
    pods = pc.list_element(pc.map_lookup(table["resource_attributes"], "k8s.pod.name", "all"), 0) \
        if hasattr(pc, "map_lookup") else None
    keys = list(zip(codes(table["service_name"]), codes(table["service_version"]),
                    codes(table["deployment_track"]),
                    codes(pods) if pods is not None else [0] * n))

order, lines = [], []
pieces = {}
batch = []
line_no = 0


def flush():
    global batch, line_no
    if batch:
        line_no += 1
        for rows in batch:
            order.extend(rows)
            lines.extend([line_no] * len(rows))
    batch = []


for i, k in enumerate(keys):
    p = pieces.get(k)
    if p is None:
        p = pieces[k] = ([], rng.randint(1, 21))
    p[0].append(i)
    if len(p[0]) >= p[1]:
        batch.append(pieces.pop(k)[0])
        if len(batch) >= 28:
            flush()
for k in sorted(pieces):
    batch.append(pieces[k][0])
    if len(batch) >= 28:
        flush()
flush()
assert len(order) == n

# Written one row group at a time: a take over the whole table would concatenate string columns
# past 2 GB. Each output group takes its rows from the source batches that hold them.
batches = table.to_batches()
starts = np.cumsum([0] + [b.num_rows for b in batches])
order, lines = np.array(order, np.int64), np.array(lines, np.int64)
line_col = table.schema.get_field_index("source_line")
writer = pq.ParquetWriter(out, table.schema, compression="zstd")
for lo in range(0, n, 131072):
    idx = order[lo:lo + 131072]
    src_batch = np.searchsorted(starts, idx, side="right") - 1
    by_batch = np.argsort(src_batch, kind="stable")
    parts = [batches[c].take(pa.array(idx[by_batch][src_batch[by_batch] == c] - starts[c]))
             for c in np.unique(src_batch)]
    group = pa.Table.from_batches(parts, schema=table.schema).take(pa.array(np.argsort(by_batch)))
    group = group.set_column(line_col, table.schema.field("source_line"),
                             pa.array(lines[lo:lo + 131072], pa.int64()))
    writer.write_table(group, row_group_size=131072)
writer.close()
print(f"{n} spans in {line_no} lines ({n / max(line_no, 1):.0f} spans per line)")
