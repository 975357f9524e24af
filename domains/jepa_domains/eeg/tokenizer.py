"""EEG as video: tubelet tokens of ``frame × scalp-grid cell`` on a ``frames × 5 × 5`` grid.

Each channel's window is cut into frames of ``frame_size`` samples; a shared
linear layer embeds one frame of one electrode, and the token lands in the
electrode's cell of the scalp grid (:mod:`.channels`). Cells without an
electrode, and electrodes absent from a recording, are invalid tokens, so
masks and attention skip them.
"""

from __future__ import annotations

from typing import Any

import torch
from jepa_platform.domain import TokenBatch, TokenGrid, Tokenizer
from torch import nn

from .channels import CHANNELS_1020, GRID_SIZE, scalp_cells


def cell_index(channels: tuple[str, ...]) -> torch.Tensor:
    """Each channel's cell on the flattened ``5 × 5`` scalp grid."""
    cells = torch.from_numpy(scalp_cells()).long()
    order = torch.tensor([CHANNELS_1020.index(name) for name in channels])
    return cells[order, 0] * GRID_SIZE + cells[order, 1]


def on_scalp_grid(per_channel: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """``B × C × F × D`` values of each channel's frames -> ``B × (F · 25) × D`` tokens in grid order
    (each channel in its ``cell``, zeros in cells without an electrode)."""
    b, _, frames, width = per_channel.shape
    tokens = per_channel.new_zeros(b, frames, GRID_SIZE * GRID_SIZE, width)
    tokens[:, :, cell] = per_channel.transpose(1, 2)
    return tokens.reshape(b, -1, width)


class EEGTubeletTokenizer(Tokenizer):
    """``B × channels × samples`` windows -> ``B × (frames · 25) × D`` tokens on a ``frames × 5 × 5`` grid.

    Args:
        channels: The input channels, names among the 10-20 channels.
        window: Samples per window.
        frame: Samples per token.
        embed_dim: Token width.
    """

    def __init__(self, channels: tuple[str, ...], window: int, frame: int, embed_dim: int) -> None:
        super().__init__()
        if window % frame:
            raise ValueError(f"window of {window} samples is not a multiple of the {frame}-sample frame")
        self.frame, self.embed_dim, self.frames = frame, embed_dim, window // frame
        self.grid = TokenGrid((self.frames, GRID_SIZE, GRID_SIZE), axis_names=("time", "front-back", "left-right"))
        self.register_buffer("cell", cell_index(channels), persistent=False)
        self.proj = nn.Linear(frame, embed_dim)

    def valid_mask(self, batch: dict[str, Any]) -> torch.Tensor:
        """A token is valid when its cell holds an electrode present in the recording."""
        present = batch["present"]
        cells = torch.zeros(present.shape[0], GRID_SIZE * GRID_SIZE, dtype=torch.bool, device=present.device)
        cells[:, self.cell.to(present.device)] = present
        return cells.unsqueeze(1).expand(-1, self.frames, -1).reshape(present.shape[0], -1)

    def static_valid_mask(self) -> torch.Tensor:
        """The cells holding one of the input channels' electrodes, in every frame; the others are never valid."""
        cells = torch.zeros(GRID_SIZE * GRID_SIZE, dtype=torch.bool)
        cells[self.cell.cpu()] = True
        return cells.repeat(self.frames)

    def forward(self, batch: dict[str, Any]) -> TokenBatch:
        signal = batch["signal"].to(self.proj.weight.dtype)
        b, c, _ = signal.shape
        embedded = self.proj(signal.reshape(b, c, self.frames, self.frame))  # B × C × F × D
        return TokenBatch(on_scalp_grid(embedded, self.cell), self.valid_mask(batch))
