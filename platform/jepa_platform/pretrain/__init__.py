"""Pretraining: the recipe, the JEPA LightningModule, the run with its callbacks and monitoring, and its commands."""
