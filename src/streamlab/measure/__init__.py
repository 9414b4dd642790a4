"""Measurements of stream processing: the raw floor, end-to-end latency, ordering and loss."""
