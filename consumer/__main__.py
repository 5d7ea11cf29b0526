import sys

from consumer.main_consumer import main

sys.exit(main())
