"""The registry fixtures the push and login command tests use (a real `docker-registry` with TLS)."""

from tests.registry.conftest import docker_config, registry_bin, tls_ca, tls_registry

__all__ = ["docker_config", "registry_bin", "tls_ca", "tls_registry"]
