"""The project's tests. A package so that `tests.support` is importable from any test:
pytest (import mode importlib) imports this folder as the package `tests`, no sys.path edit."""
