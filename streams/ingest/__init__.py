"""``socialpulse ingest``: the HTTP ingest server, ``POST /events`` to the events topic.

A request goes through the modules in this order:

- ``server``: the aiohttp app and its routes, the configuration (``IngestConfig``), the
  checks that need no body (token, size, media type, broker up) and the gate that bounds
  the requests and bytes in flight;
- ``body``: the body parsed into events, each validated and encoded, or refused with its
  reason;
- ``delivery``: the producer that batches the valid events into envelopes per brand and
  tells each request when its own events are on the broker;
- ``metrics``: the Prometheus metrics and the periodic progress line.

Docs: docs/ingest.md and docs/producers.md.
"""
