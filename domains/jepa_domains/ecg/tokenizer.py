"""ECG tokens: one token per time patch across all leads.

Why across leads rather than per lead: the 12 leads are simultaneous
projections of one cardiac dipole, so a short patch of all leads is a natural
unit; it keeps sequences 12x shorter (10 s at 50 ms patches = 200 tokens, not
2,400) for quadratic attention; and it is the tokenization behind the best
published PTB-XL results (ECG-JEPA, Conv1d of kernel = stride = 25 at 500 Hz).
Missing leads are zero in the input and announced by a learned per-lead
"absent" embedding added to every token.
"""

from __future__ import annotations

from typing import Any

import torch
from jepa_platform.domain import TokenBatch, TokenGrid, Tokenizer
from torch import nn


class ECGPatchTokenizer(Tokenizer):
    """``B × leads × T`` signals -> ``B × (T / patch) × D`` tokens on a 1-D time grid.

    Args:
        num_leads: Input leads (channels).
        window: Samples per window.
        patch: Samples per token.
        embed_dim: Token width.
    """

    def __init__(self, num_leads: int, window: int, patch: int, embed_dim: int) -> None:
        super().__init__()
        if window % patch:
            raise ValueError(f"window of {window} samples is not a multiple of the {patch}-sample patch")
        self.patch, self.embed_dim = patch, embed_dim
        self.grid = TokenGrid((window // patch,), axis_names=("time",))
        self.proj = nn.Conv1d(num_leads, embed_dim, kernel_size=patch, stride=patch)
        self.absent_lead = nn.Parameter(torch.zeros(num_leads, embed_dim))

    def valid_mask(self, batch: dict[str, Any]) -> torch.Tensor:
        """A token is valid when its patch starts inside the recorded signal (the rest is padding)."""
        starts = torch.arange(self.grid.num_tokens, device=batch["length"].device) * self.patch
        return starts.unsqueeze(0) < batch["length"].unsqueeze(1)

    def forward(self, batch: dict[str, Any]) -> TokenBatch:
        tokens = self.proj(batch["signal"].to(self.proj.weight.dtype)).transpose(1, 2)  # B × N × D
        absent = (~batch["lead_present"]).to(tokens.dtype)
        tokens = tokens + (absent @ self.absent_lead.to(tokens.dtype)).unsqueeze(1)
        return TokenBatch(tokens, self.valid_mask(batch))
