import sys

from es_live.cli import main

sys.exit(main())
