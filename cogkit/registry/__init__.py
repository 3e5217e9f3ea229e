"""A native OCI distribution client: push local images to any registry, and log in to one."""

from cogkit.registry.cache import BlobCache
from cogkit.registry.credentials import Credentials, get_credentials, store_credentials
from cogkit.registry.login import login
from cogkit.registry.manifest import ManifestFormat
from cogkit.registry.push import PushResult, push_image
from cogkit.registry.reference import Reference
from cogkit.registry.via_docker import push_with_engine

__all__ = [
    "BlobCache",
    "Credentials",
    "ManifestFormat",
    "PushResult",
    "Reference",
    "get_credentials",
    "login",
    "push_image",
    "push_with_engine",
    "store_credentials",
]
