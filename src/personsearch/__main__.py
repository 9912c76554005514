from personsearch.cli import main

raise SystemExit(main())
