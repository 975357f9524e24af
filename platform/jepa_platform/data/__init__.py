"""Data for pretraining: the shared DataModule, `prepare` (raw files to shards) and the shard reader."""
