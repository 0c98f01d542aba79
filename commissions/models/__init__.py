"""The money rules' data; one module per subdomain, re-exported here."""

from commissions.models.refinancing import RefinancingRequest

__all__ = ["RefinancingRequest"]
