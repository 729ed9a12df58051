import sys

from funnel_models.cli import main

sys.exit(main())
