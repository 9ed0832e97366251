"""Crisis detection and alert delivery.

``baseline`` learns what is normal for a brand (EWMA mean and variance in event time),
``rules`` names the detectors and their defaults, ``detector`` evaluates them per brand on
the KPI state's minute buckets, ``lifecycle`` keeps one alert per brand × rule with
hysteresis and a cooldown, ``evidence`` keeps the recent events an alert shows, and
``notify`` delivers alerts to the console, webhooks and Apprise URLs without ever blocking
the pipeline. ``socialpulse.rules.yml`` is for users who route through Alertmanager.
"""
