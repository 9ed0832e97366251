"""socialpulse.cli: the ``socialpulse`` command and what only a command runs: the demo, the
embedded broker launcher, the backtest, the dead-letter tool, the board of a Prometheus
server, and the generator of the documentation's tables. The worker itself is
``socialpulse.agents``; nothing there imports this package."""
