"""``python -m nclab.cli``: the ``nclab`` command."""

from . import main

raise SystemExit(main())
