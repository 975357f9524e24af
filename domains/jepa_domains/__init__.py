"""Built-in domain plugins of jepa-platform, each registered through the ``jepa_platform.domains`` entry point."""
