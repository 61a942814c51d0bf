"""meterbill: meter readings in, correct bills out. This package is the shared Lambda layer."""
