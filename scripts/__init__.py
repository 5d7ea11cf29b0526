"""The checkout's own tools, run from its root with `python -m scripts.<name>` (not installed):
`scripts.demo` behind `make demo`, `scripts.sample_photos` that it uses; `setup.sh` behind `make setup`."""
