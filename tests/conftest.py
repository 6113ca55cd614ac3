"""Shared pytest configuration: fixtures live in plugin modules, one per area."""

pytest_plugins = [
    "tests.fixtures_gateway",
    "tests.fixtures_postgres",
    "tests.fixtures_proxy",
    "tests.fixtures_redis",
]
