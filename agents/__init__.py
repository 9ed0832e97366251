"""socialpulse.agents: the worker. The Faust app factory (``app.create_app``), its
settings, the batch core and the KPI state with its maths as pure functions, the
Prometheus exporter and the live board's page. The commands that run it are in
``socialpulse.cli``."""
