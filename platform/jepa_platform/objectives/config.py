"""The recipe's ``objective`` section, SIGReg's settings in it (no torch import)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from ..config import Section


class SIGRegConfig(Section):
    """SIGReg settings; defaults as in LeJEPA (256 slices, t in [0, 3] at 17 points, lambda 0.02)."""

    weight: float = 0.02
    slices: int = 256
    points: int = 17
    t_max: float = 3.0
    scope: Literal["all", "batch", "tokens", "both"] = "all"

    @model_validator(mode="after")
    def _check(self) -> "SIGRegConfig":
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"weight (lambda) must lie in [0, 1], got {self.weight}")
        if self.slices < 1 or self.points < 2 or self.t_max <= 0:
            raise ValueError("need slices >= 1, points >= 2 and t_max > 0")
        return self


class ObjectiveConfig(Section):
    """What the predictor regresses, and what keeps the embeddings from collapsing.

    ``ema``: the layer-normed embeddings of an EMA teacher (momentum rising
    linearly from start to end). ``sigreg``: the embeddings of the same encoder
    on the whole input, with no teacher, stop-gradient or schedule; the loss is
    ``(1 - lambda) * prediction + lambda * SIGReg`` (``sigreg.weight`` is lambda).

    ``target`` says what the masked tokens regress: ``latent`` (the embeddings
    above), ``domain`` (the domain plugin's target function, e.g. SAR gradient
    features, computed from the raw input; with ``kind: ema`` there is then no
    teacher) or ``both``: the prediction loss is the latent loss plus
    ``domain_weight`` times the domain loss.
    """

    kind: Literal["ema", "sigreg"] = "ema"
    target: Literal["latent", "domain", "both"] = "latent"
    domain_weight: float = 1.0
    ema_momentum: tuple[float, float] = (0.996, 1.0)
    loss: Literal["l1", "smooth_l1", "mse"] = "smooth_l1"
    sigreg: SIGRegConfig = SIGRegConfig()

    @model_validator(mode="after")
    def _check(self) -> "ObjectiveConfig":
        if not all(0.0 <= m <= 1.0 for m in self.ema_momentum):
            raise ValueError(f"ema_momentum values must lie in [0, 1], got {self.ema_momentum}")
        if self.domain_weight < 0:
            raise ValueError(f"domain_weight must be non-negative, got {self.domain_weight}")
        return self

    @property
    def latent(self) -> bool:
        """Whether latent (embedding) targets are regressed."""
        return self.target != "domain"

    @property
    def domain(self) -> bool:
        """Whether the domain's target function is regressed."""
        return self.target != "latent"

    @property
    def teacher(self) -> bool:
        """Whether an EMA teacher computes the latent targets."""
        return self.kind == "ema" and self.latent

    @property
    def full_pass(self) -> bool:
        """Whether a step encodes the whole input: for latent targets, or for SIGReg to test its embeddings."""
        return self.latent or self.kind == "sigreg"
