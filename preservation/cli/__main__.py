import sys

from preservation.cli import main

sys.exit(main())
