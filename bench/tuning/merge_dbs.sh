#!/bin/sh
# bench/tuning/merge_dbs.sh OUT.db IN.db... - copies the runs and measurements of several tuning
# databases into OUT.db (created from the first), renumbering runs, so that one `kcc report`
# draws every strategy's curve per kernel and one `kcc compile --db` sees every record.
set -e
out=$1; shift
cp "$1" "$out"; shift
for db in "$@"; do
  sqlite3 "$out" "
    ATTACH '$db' AS src;
    CREATE TEMP TABLE off AS SELECT COALESCE(MAX(id), 0) AS o FROM main.runs;
    INSERT INTO main.runs(id, workload_key, target_key, kernel, strategy, budget, pid, host, started, finished)
      SELECT id + (SELECT o FROM off), workload_key, target_key, kernel, strategy, budget, pid, host, started, finished FROM src.runs;
    INSERT INTO main.measurements(run_id, workload_key, target_key, kernel, schedule, samples, median, error, strategy,
                                  kcc_version, timestamp, flops)
      SELECT run_id + (SELECT o FROM off), workload_key, target_key, kernel, schedule, samples, median, error, strategy,
             kcc_version, timestamp, flops FROM src.measurements;
    DROP TABLE off;"
done
