"""jepa-platform: Joint-Embedding Predictive Architecture pretraining, one core and a plugin per domain."""

__version__ = "0.1.0"
