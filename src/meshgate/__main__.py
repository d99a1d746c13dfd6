"""`python -m meshgate` is the `meshgate` console script."""

from meshgate.cli import main

raise SystemExit(main())
