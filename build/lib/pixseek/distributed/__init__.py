"""Distributed work: encoding a large file list on a Ray cluster (local by default)."""
