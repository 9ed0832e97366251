"""socialpulse.agents: the Faust app factory (``app.create_app``), settings, the KPI state
and its maths as pure functions, the Prometheus exporter, the CLI, the embedded broker and
the demo."""
