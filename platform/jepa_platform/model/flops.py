"""Model FLOPs of a JEPA training step (matmuls only), for throughput and MFU reports."""

from __future__ import annotations

from .config import ModelConfig


def transformer_forward_flops(dim: int, depth: int, mlp_ratio: float, tokens: int) -> float:
    """Forward FLOPs of one sequence through a transformer stack (matmuls only)."""
    per_token = 2 * (4 * dim * dim + 2 * mlp_ratio * dim * dim)  # qkv + proj, then the MLP
    attention = 2 * 2 * tokens * tokens * dim  # scores and weighted sum
    return depth * (tokens * per_token + attention)


def jepa_step_flops(
    config: ModelConfig,
    num_tokens: int,
    context_len: int,
    num_targets: int,
    target_len: int,
    teacher: bool = True,
    full_pass: bool = True,
) -> float:
    """Training FLOPs per sample of one JEPA step (backward counted as twice the forward).

    Student encoder on the context (fwd + bwd), the targets' pass over all
    tokens (an EMA teacher: fwd only; without a teacher the encoder itself,
    fwd + bwd; none when ``full_pass`` is ``False``: domain targets alone),
    predictor on context + target queries for each of the K blocks.
    """
    student = 3 * transformer_forward_flops(config.embed_dim, config.depth, config.mlp_ratio, context_len)
    full = transformer_forward_flops(config.embed_dim, config.depth, config.mlp_ratio, num_tokens)
    targets = (full if teacher else 3 * full) if full_pass else 0.0
    predictor = 3 * num_targets * transformer_forward_flops(
        config.predictor_dim, config.predictor_depth, config.mlp_ratio, context_len + target_len
    )
    return student + targets + predictor
