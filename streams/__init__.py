"""socialpulse.streams: the event contract (docs/events.md), its codec and validation, topics,
the producer SDK (``producer.EventProducer``), and the producers built on it (the
synthetic generator and file replay)."""
