#!/usr/bin/env bash
# Multi-node (or single-node) pretraining with torchrun: run this same command on every node.
#
#   NNODES=4 RDZV_HOST=node0 scripts/torchrun.sh --recipe recipes/ecg/pretrain-ptbxl.yaml \
#       --data /shared/shards/ptbxl --out /shared/runs/ptbxl --trainer.strategy fsdp2
#
# NNODES (default 1), NPROC_PER_NODE (default: the GPUs nvidia-smi lists, else 1),
# RDZV_HOST (default localhost) and RDZV_PORT (default 29500) set the rendezvous; RUN_ID (default
# "jepa") must be the same on every node. Every other argument goes to `jepa-platform pretrain`.
set -euo pipefail

NNODES=${NNODES:-1}
NPROC_PER_NODE=${NPROC_PER_NODE:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)}
NPROC_PER_NODE=${NPROC_PER_NODE:-1}
[ "$NPROC_PER_NODE" -gt 0 ] || NPROC_PER_NODE=1

exec torchrun \
    --nnodes "$NNODES" --nproc-per-node "$NPROC_PER_NODE" \
    --rdzv-backend c10d --rdzv-endpoint "${RDZV_HOST:-localhost}:${RDZV_PORT:-29500}" --rdzv-id "${RUN_ID:-jepa}" \
    -m jepa_platform.cli pretrain "$@" \
    --trainer.num_nodes "$NNODES" --trainer.devices "$NPROC_PER_NODE"
