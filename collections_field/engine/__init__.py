"""The nightly engine, one module per step, read in this order:
events -> transitions -> assignment; `cycle` orchestrates them with the run ledger."""
