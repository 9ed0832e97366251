"""socialpulse's Grafana boards, as code.

``panels`` holds the building blocks (panels, targets, template variables, a grid layout),
``boards`` the six boards, and ``build`` writes them as JSON into ``grafana/dashboards/``,
which Grafana's provisioning loads (``make boards`` regenerates them; a test fails when the
JSON files drift from the code).
"""
