"""socialpulse.alerts: crisis detection and alert delivery. Nothing is here yet: the
detectors, their lifecycle, the notifiers and the Prometheus alerting rules come with the
crisis-detection issue; the worker already declares the ``social-alerts`` topic."""
