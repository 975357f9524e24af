"""Label-free quality criteria of a representation: RankMe, LiDAR and view retrieval.

- RankMe (Garrido et al., 2023): the effective rank ``exp(-sum_k p_k log p_k)``,
  ``p_k = sigma_k / sum(sigma) + eps``, of an ``N × D`` embedding matrix. The
  monitor computes it on pooled embeddings (one row per sample) and on token
  embeddings (one row per token).
- LiDAR (Thilak et al., 2023): the same effective rank, of the eigenvalues of the
  linear discriminant analysis matrix ``Sw^-1/2 Sb Sw^-1/2`` over surrogate classes,
  each class the embeddings of several views of one sample. Sb is the covariance
  of the class means, Sw the mean within-class covariance plus ``delta · I``. A
  high LiDAR needs embeddings that spread samples apart along many directions
  while the views of one sample stay together. For JEPA, a view is the pooled
  embedding of one context mask drawn by the run's own masking strategy.
- View retrieval: over the same views, how often a sample's view finds, among
  another view of every sample, its own sample as the nearest (cosine, on
  features standardized over all views, as the linear probe standardizes its
  features); the mean over every ordered pair of views. Chance is ``1 / n``;
  1 when each sample's views are closer to each other than to any other
  sample's. It asks what LiDAR asks without inverting a covariance: are
  samples told apart by what their partial views share?
"""

from __future__ import annotations

import torch


def effective_rank(values: torch.Tensor, eps: float = 1e-7) -> float:
    """``exp`` of the entropy of non-negative ``values`` normalized to sum to one."""
    p = values / values.sum() + eps
    return float(torch.exp(-(p * p.log()).sum()))


def rankme(embeddings: torch.Tensor, eps: float = 1e-7) -> float:
    """Effective rank of an ``N × D`` matrix (1 for rank one, ``min(N, D)`` for orthonormal rows)."""
    return effective_rank(torch.linalg.svdvals(embeddings.double()), eps)


def lidar(views: torch.Tensor, delta: float = 1e-4, eps: float = 1e-7) -> float:
    """LiDAR of ``n × q × D`` embeddings: ``q`` views of each of ``n`` samples (``n, q >= 2``)."""
    if views.shape[0] < 2 or views.shape[1] < 2:
        raise ValueError(f"LiDAR needs at least 2 samples of at least 2 views each, got {tuple(views.shape[:2])}")
    x = views.double()
    class_means = x.mean(dim=1)  # n × D
    between = torch.cov(class_means.T, correction=0)
    spread = (x - class_means.unsqueeze(1)).reshape(-1, x.shape[-1])
    within = spread.T @ spread / spread.shape[0] + delta * torch.eye(x.shape[-1], dtype=x.dtype)
    eigenvalues, eigenvectors = torch.linalg.eigh(within)
    inverse_root = eigenvectors @ torch.diag(eigenvalues.rsqrt()) @ eigenvectors.T
    discriminant = inverse_root @ between @ inverse_root
    return effective_rank(torch.linalg.eigvalsh(discriminant).clamp(min=0.0), eps)


def view_retrieval(views: torch.Tensor) -> float:
    """Top-1 retrieval of each of ``n`` samples from ``n × q × D`` embeddings of ``q`` views each (``n, q >= 2``)."""
    if views.shape[0] < 2 or views.shape[1] < 2:
        raise ValueError(f"view retrieval needs 2 samples or more of 2 views or more, got {tuple(views.shape[:2])}")
    flat = views.double().reshape(-1, views.shape[-1])
    standardized = (flat - flat.mean(0)) / flat.std(0).clamp(min=1e-12)
    unit = torch.nn.functional.normalize(standardized, dim=-1).reshape(views.shape).transpose(0, 1)  # q × n × D
    similarity = unit @ unit.transpose(1, 2).unsqueeze(1)  # q × q × n × n: view a of each sample against view b
    hits = similarity.argmax(dim=-1) == torch.arange(views.shape[0])
    pairs = ~torch.eye(views.shape[1], dtype=torch.bool)
    return float(hits.double().mean(dim=-1)[pairs].mean())
