from certctl_agent.cli import main

raise SystemExit(main())
