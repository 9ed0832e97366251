"""socialpulse.streams: the event contract (docs/events.md), its codec and validation, topics,
the producer SDK (``producer.EventProducer``), and the producers built on it: the
synthetic generator (``generator``, drawing on ``vocabulary``, paced by ``pacing``), file
replay, and the HTTP ingest server (``ingest``)."""
