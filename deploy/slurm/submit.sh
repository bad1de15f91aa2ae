#!/bin/bash
# Submits the sweep array and its merge, the merge starting when every shard succeeded.
set -euo pipefail
cd "$(dirname "$0")"
array=$(sbatch --parsable --export=ALL sweep.sbatch)
sbatch --export=ALL --dependency=afterok:"$array" merge.sbatch
echo "submitted array $array and its merge; results in ${RESULTS:-$PWD/ptlab-results}"
