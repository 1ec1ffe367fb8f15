"""Benchmarks of the gateway, run as real processes on loopback (see bench/README.md)."""
