"""What a run leaves behind: its folder, files written atomically, and its MLflow tracking."""
