"""Test inputs: the corpus of malformed and awkward tables (``bad/``) and its generator."""
