"""An example socialpulse producer plug-in: a like for a brand every few seconds."""

import asyncio
import time

from socialpulse.streams.plugins import Plugin, option


async def ticks(brand: str, count: int, every: float):
    for n in range(1, count + 1):
        yield {"id": f"tick-{brand}-{n}", "ts": time.time(), "brand": brand, "kind": "like"}
        await asyncio.sleep(every)


plugin = Plugin(
    "ticks",
    "Example plug-in: COUNT likes for BRAND, one every EVERY seconds.",
    events=ticks,
    options=[
        option("--brand", default="acme", show_default=True, help="Brand the likes are for."),
        option("--count", type=int, default=10, show_default=True, help="Likes to send."),
        option("--every", type=float, default=1.0, show_default=True, help="Seconds apart."),
    ],
)
