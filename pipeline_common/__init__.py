"""What the pipeline's stages share: connection settings, client factories and the
record contracts passed between stages. Stages import this package, never each other."""
