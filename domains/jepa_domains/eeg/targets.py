"""A spectral target for EEG tokens: the log power of each electrode over the window in frequency bands.

Clinical EEG is read by its rhythms (delta, theta, alpha, beta), and spectral
targets are what EEG foundation models regress (LaBraM's tokenizer reconstructs
each patch's Fourier amplitude and phase). Here each token's target is the log
power of its electrode over the whole window, a multitaper estimate (three DPSS
tapers of each frame, the frames' powers averaged), in bands one frequency bin
of a frame wide up to 12 Hz (1 Hz for 1 s frames: delta, theta and alpha), then
20% of their lower edge wide (beta and gamma pooled), between the recipe's
band-pass edges. One periodogram of one frame is mostly noise (its log varies
by about 1.3 nats around the power it estimates); the mean of three tapers over
the demo's five frames varies by about 0.26, so the target is the electrode's
rhythm, which a predictor can learn from the electrodes around a masked one.
"""

from __future__ import annotations

from typing import Any

import torch
from jepa_platform.domain import JepaError, TargetFunction
from scipy.signal.windows import dpss

from .tokenizer import on_scalp_grid

EPSILON = 1e-6
"""Added to the band power of the (robust-scaled) signal before the log, so silent frames stay finite."""

TAPERS = 3
"""DPSS tapers per frame, at a time-half-bandwidth of ``(TAPERS + 1) / 2``: the usual choice, 2."""

FINE_UP_TO = 12.0
"""Hz up to which bands are one frequency bin wide (delta, theta, alpha); above, 20% of the lower edge."""


def band_edges(resolution: float, low: float, high: float) -> list[float]:
    """Band edges from ``max(low, resolution)`` to ``high`` Hz (see :data:`FINE_UP_TO`)."""
    edges = [max(low, resolution)]
    while edges[-1] + resolution <= high:
        step = resolution if edges[-1] < FINE_UP_TO else max(resolution, 0.2 * edges[-1])
        edges.append(min(high, edges[-1] + step))
    return edges


class SpectralTargets(TargetFunction):
    """Per-token targets ``B × (frames · 25) × bands`` from ``batch["signal"]`` (``B × channels × samples``).

    Every frame of an electrode gets the electrode's spectrum over the window; tokens of grid cells without an
    electrode get zeros (masks never pick them).

    Args:
        cells: Each input channel's cell index on the ``5 × 5`` scalp grid.
        frame: Samples per token.
        rate: Sampling rate in Hz.
        low, high: The band-pass edges in Hz; bands lie between them.
    """

    def __init__(self, cells: torch.Tensor, frame: int, rate: float, low: float, high: float) -> None:
        super().__init__()
        self.frame = frame
        edges = band_edges(rate / frame, low, high)
        if len(edges) < 2:
            raise JepaError(
                f"spectral targets: {frame}-sample frames at {rate} Hz (data.frame_seconds) resolve no band "
                f"between data.l_freq {low} and data.h_freq {high} Hz; use longer frames or objective.target latent"
            )
        freqs = torch.fft.rfftfreq(frame, 1 / rate)
        bands = torch.stack([(freqs >= lo) & (freqs < hi) for lo, hi in zip(edges[:-1], edges[1:])]).float()
        self.register_buffer("pooling", bands / bands.sum(dim=1, keepdim=True), persistent=False)  # bands × bins
        tapers = dpss(frame, (TAPERS + 1) / 2, TAPERS)  # TAPERS × frame, each of unit energy
        self.register_buffer("tapers", torch.tensor(tapers.copy(), dtype=torch.float32), persistent=False)
        self.register_buffer("cell", cells.long(), persistent=False)
        self.dim = len(edges) - 1

    def forward(self, batch: Any) -> torch.Tensor:
        signal = batch["signal"].float()
        b, c, samples = signal.shape
        with torch.autocast(signal.device.type, enabled=False):  # band powers in float32 under mixed precision
            frames = signal.reshape(b, c, samples // self.frame, self.frame)
            frames = frames - frames.mean(dim=-1, keepdim=True)
            tapered = torch.fft.rfft(frames.unsqueeze(-2) * self.tapers, dim=-1)  # B × C × F × tapers × bins
            power = tapered.abs().square().mean(dim=(-2, 2))  # B × C × bins: over tapers and frames
            log_power = torch.log(power @ self.pooling.T + EPSILON)  # B × C × bands
            log_power = log_power.unsqueeze(2).expand(-1, -1, samples // self.frame, -1)  # every frame
        return on_scalp_grid(log_power, self.cell)
