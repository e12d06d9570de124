import sys

from imbalance.cli import main

sys.exit(main())
