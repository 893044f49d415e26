"""Batches: a playbook's experiments x repeats x sweep points on many hosts at once."""
