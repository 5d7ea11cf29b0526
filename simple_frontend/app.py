"""The original entry point, kept for the README's users: `python simple_frontend/app.py --help`.
The same command is `count-dashboard` and `python -m simple_frontend` (see simple_frontend/cli.py);
WSGI servers keep using `simple_frontend.app:create_app()` (simple_frontend/factory.py)."""

import sys

from simple_frontend.cli import main
from simple_frontend.factory import create_app

__all__ = ["create_app", "main"]

if __name__ == "__main__":
    sys.exit(main())
