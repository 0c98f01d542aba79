"""The nightly engine, one module per step, read in this order:
events -> transitions -> assignment -> selection; `cycle` orchestrates them with the run ledger."""
