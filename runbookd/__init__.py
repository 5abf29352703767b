"""The composition root: settings, CLI, toolchain and (later) the service."""
