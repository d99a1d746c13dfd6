"""`python -m meshgate` is the `meshgate` console script."""

from meshgate.cli.main import main

raise SystemExit(main())
