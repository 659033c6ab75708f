"""The store's data definition: the columns of every record and the scales runs are stored at.

Every run's records are one long table, ``metrics.parquet``, with exactly the columns
:data:`RECORD_COLUMNS` (Arrow types in :data:`SCHEMA`)::

    experiment, scale, run_id   string  (the run's identity; run ids: nclab.store.ids.run_id)
    seed                        int64
    params                      string  (the grid point as compact sorted JSON)
    step                        int64
    layer, metric               string  (whole-network quantities on layer "model"; other splits
                                         than train folded into the metric, "test/accuracy")
    value                       float64 (NaN allowed)

:class:`nclab.store.Results` is the view of these records that claims and reports read.
"""

from __future__ import annotations

import pyarrow as pa

SCALES = ("smoke", "cpu", "paper")  # root/<experiment>/<scale>/<run_id>/
SCHEMA = pa.schema(
    [
        ("experiment", pa.string()),
        ("scale", pa.string()),
        ("run_id", pa.string()),
        ("seed", pa.int64()),
        ("params", pa.string()),
        ("step", pa.int64()),
        ("layer", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
    ]
)
RECORD_COLUMNS = tuple(SCHEMA.names)
