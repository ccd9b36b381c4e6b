"""Like many real projects, loyalty talks to Redis after every migrate (a cache warm-up): without a
Redis answering at REDIS_URL, `migrate` fails."""
import os
import socket
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def warm_cache(sender, **kwargs):
    from django.conf import settings

    parts = urlsplit(settings.REDIS_URL)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address = parts.path
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = (parts.hostname, parts.port or 6379)
    sock.settimeout(5)
    with sock:
        sock.connect(address)
        sock.sendall(b"SET loyalty:warm 1\r\n")
        if not sock.recv(64).startswith(b"+OK"):
            raise RuntimeError("redis did not accept the cache warm-up")


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        post_migrate.connect(warm_cache, sender=self)
