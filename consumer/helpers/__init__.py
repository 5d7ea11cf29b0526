"""Helpers run by hand, e.g. `download-detector-model` (consumer/helpers/download_models.py)."""
