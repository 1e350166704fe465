"""A sync worker process for the crash and concurrency tests: `python sync_worker.py STAGING WAREHOUSE ROWS [LOOP]`.

Runs the sync of tst:item once (or, with LOOP, until nothing is staged); FERRY_SYNC_CRASH_AT may kill it midway.
"""

from __future__ import annotations

import sys
import tempfile

from ferry.config import Settings
from ferry.staging import StagingDatabase
from ferry.sync import run_once
from ferry.warehouse import open_warehouse


def main() -> None:
    staging_url, warehouse_url, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    loop = len(sys.argv) > 4
    settings = Settings.from_env(database_url=staging_url, data_dir=tempfile.mkdtemp(), batch_rows=rows)
    with StagingDatabase.open(settings) as db:
        warehouse = open_warehouse(warehouse_url)
        try:
            while True:
                result = run_once(db, warehouse, "tst:item", settings, retries=0)
                print(result.state, result.counts, result.error, flush=True)
                if result.state == "failed":
                    sys.exit(2)
                if not loop:
                    break
                with db.pool.connection() as conn:
                    row = conn.execute("SELECT count(*) FROM ferry.rows_tst_item WHERE _state = 'staged'").fetchone()
                if row is None or row[0] == 0:
                    break
        finally:
            warehouse.close()


if __name__ == "__main__":
    main()
