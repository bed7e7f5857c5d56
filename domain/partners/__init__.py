"""Integration partners: API clients acting as role ``partner`` in one centre."""
