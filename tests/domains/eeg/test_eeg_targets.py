"""EEG spectral targets: band edges, where a rhythm's power lands, token layout, and pretraining with them."""

from __future__ import annotations

import math

import pytest
import torch
from jepa_domains.eeg import plugin
from jepa_domains.eeg.channels import CHANNELS_1020
from jepa_domains.eeg.config import EEGDataConfig
from jepa_domains.eeg.targets import SpectralTargets, band_edges
from jepa_domains.eeg.tokenizer import EEGTubeletTokenizer, cell_index
from jepa_platform.errors import JepaError

RATE, FRAME, FRAMES = 100.0, 100, 4


def test_band_edges_are_one_bin_wide_to_12_hz_then_widen() -> None:
    edges = band_edges(1.0, 0.5, 40.0)
    assert edges[:12] == [float(f) for f in range(1, 13)]
    widths = [hi - lo for lo, hi in zip(edges[12:-1], edges[13:])]
    assert all(later > earlier for earlier, later in zip(widths, widths[1:-1]))
    assert edges[-1] == 40.0 and all(hi - lo >= 1.0 for lo, hi in zip(edges, edges[1:]))
    assert band_edges(0.5, 0.1, 40.0)[:3] == [0.5, 1.0, 1.5]  # 2 s frames: half-hertz bands


def test_frames_too_short_for_the_band_pass_fail_clearly() -> None:
    with pytest.raises(JepaError, match="resolve no band"):
        SpectralTargets(cell_index(CHANNELS_1020), 4, 100.0, 0.5, 40.0)  # 25 Hz bins: none fits 0.5-40 Hz


def test_a_rhythm_peaks_in_its_band_at_its_electrodes_cell() -> None:
    function = SpectralTargets(cell_index(CHANNELS_1020), FRAME, RATE, 0.5, 40.0)
    t = torch.arange(FRAMES * FRAME) / RATE
    signal = 0.01 * torch.randn(2, len(CHANNELS_1020), FRAMES * FRAME, generator=torch.Generator().manual_seed(0))
    o1 = CHANNELS_1020.index("O1")
    signal[0, o1] += torch.sin(2 * math.pi * 9.0 * t)
    targets = function({"signal": signal})
    assert targets.shape == (2, FRAMES * 25, function.dim)

    edges = band_edges(1.0, 0.5, 40.0)
    alpha_band = next(i for i, (lo, hi) in enumerate(zip(edges, edges[1:])) if lo <= 9.0 < hi)
    per_frame = targets[0].reshape(FRAMES, 25, function.dim)[:, cell_index(CHANNELS_1020)[o1]]
    assert (per_frame.argmax(dim=-1) == alpha_band).all()
    assert (per_frame[:, alpha_band] - targets[1].reshape(FRAMES, 25, -1)[:, cell_index(CHANNELS_1020)[o1], alpha_band] > 5).all()


def test_each_electrode_gets_its_spectrum_over_the_window_in_every_frame() -> None:
    function = SpectralTargets(cell_index(CHANNELS_1020), FRAME, RATE, 0.5, 40.0)
    t = torch.arange(FRAME) / RATE
    signal = 0.01 * torch.randn(1, len(CHANNELS_1020), FRAMES * FRAME, generator=torch.Generator().manual_seed(1))
    o1 = CHANNELS_1020.index("O1")
    signal[0, o1, :FRAME] += torch.sin(2 * math.pi * 9.0 * t)  # a rhythm in the first frame only
    per_frame = function({"signal": signal})[0].reshape(FRAMES, 25, function.dim)
    assert torch.equal(per_frame, per_frame[:1].expand_as(per_frame))
    alpha_band = next(i for i, (lo, hi) in enumerate(zip(band_edges(1.0, 0.5, 40.0), band_edges(1.0, 0.5, 40.0)[1:]))
                      if lo <= 9.0 < hi)
    assert per_frame[-1, cell_index(CHANNELS_1020)[o1]].argmax() == alpha_band


def test_the_window_estimate_varies_far_less_than_one_periodogram_of_one_frame() -> None:
    """White noise has the same power in every band; the targets' spread around it is the estimator's noise."""
    function = SpectralTargets(cell_index(CHANNELS_1020), FRAME, RATE, 0.5, 40.0)
    signal = torch.randn(64, len(CHANNELS_1020), 5 * FRAME, generator=torch.Generator().manual_seed(2))
    targets = function({"signal": signal}).reshape(64, 5, 25, function.dim)[:, 0, cell_index(CHANNELS_1020)]
    frame = signal[..., :FRAME] - signal[..., :FRAME].mean(dim=-1, keepdim=True)
    periodogram = torch.fft.rfft(frame * torch.hann_window(FRAME, periodic=False)).abs().square()
    one_bin_band = 4  # 5-6 Hz: one frequency bin, as the targets' band is
    assert targets[..., one_bin_band].std() < 0.35
    assert periodogram[..., 5].log().std() > 1.0


def test_targets_sit_on_the_tokenizers_valid_tokens_only() -> None:
    channels = ("Fp1", "Cz", "O2")
    function = SpectralTargets(cell_index(channels), FRAME, RATE, 0.5, 40.0)
    tokenizer = EEGTubeletTokenizer(channels, FRAMES * FRAME, FRAME, 8)
    targets = function({"signal": torch.randn(1, 3, FRAMES * FRAME)})
    written = targets[0].abs().sum(dim=-1) > 0
    assert torch.equal(written, tokenizer.static_valid_mask())


def test_the_plugin_builds_targets_for_its_recipes_data() -> None:
    data = EEGDataConfig(sampling_rate=100, l_freq=0.5, h_freq=40, notch_freq=None, window_seconds=4, hop_seconds=2)
    function = plugin.target_function(data)
    assert function.dim == len(band_edges(1.0, 0.5, 40.0)) - 1
    targets = function({"signal": torch.randn(3, 19, data.window_size)})
    assert targets.shape == (3, plugin.build_tokenizer(data, 8).grid.num_tokens, function.dim)
    assert torch.isfinite(targets).all()


def test_band_powers_stay_float32_under_mixed_precision() -> None:
    function = SpectralTargets(cell_index(CHANNELS_1020), FRAME, RATE, 0.5, 40.0)
    signal = torch.randn(2, 19, FRAMES * FRAME)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = function({"signal": signal})
    assert mixed.dtype == torch.float32
    assert torch.equal(mixed, function({"signal": signal}))
