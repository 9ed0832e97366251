"""``socialpulse bench``: socialpulse's throughput side by side with the limits beneath it.

``corpus`` makes the events and fills the topics, ``probes`` runs each consumer (raw
aiokafka, Faust's no-op agent, a naive Faust table, socialpulse workers), ``faust_probe``
holds the two Faust apps, ``latency`` measures end-to-end latency and scrape time,
``report`` prints the table and writes the JSON and the PNG chart, ``run`` ties them.
The older scripts (``throughput.py``, ``memory.py``, ``enrichment.py``) run on their own.

A development tool of the source checkout, not part of the installed package: run it from
the checkout's root as ``bench`` (``python -m bench.run``, ``make bench``), which
``socialpulse bench`` finds on its own.
"""
