import sys

from sdc_bench.cli import main

sys.exit(main())
