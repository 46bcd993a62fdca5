"""The channel layer (settings CHANNEL_LAYERS): channels-redis' pub/sub layer, with a lighter inbox
per channel.

channels-redis' `RedisPubSubLoopLayer` gives every channel (one per socket) an `asyncio.Queue`
for the messages that arrived and wait for the consumer: three deques and an Event of its own,
about 3 KiB per idle socket (tracemalloc), almost always empty. `core.light_queue.LightQueue` is
what the layer needs of it (same order, same semantics for whoever waits), and holds nothing while
it is empty and nobody waits. Everything else (subscriptions, shards, serialization, the cleanup
when a receive is cancelled) is the pinned channels-redis 4.3.0's own.
tests/messaging/test_light_sockets.py proves the delivery.
"""

import asyncio

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

from core.light_queue import LightQueue


class LightInboxLoopLayer(RedisPubSubLoopLayer):
    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = LightQueue()
        shard = self._get_shard(channel)
        await shard.subscribe(channel)


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """channels_redis.pubsub.RedisPubSubChannelLayer with a `LightQueue` per channel."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = LightInboxLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
