"""`python -m deploy.checks` (`make k8s-check`): runs the suite and exits non-zero on any problem."""

import sys

from deploy.checks.suite import main

sys.exit(main())
