"""The money rules' data: one module per subdomain, re-exported here."""

from commissions.models.exonerations import Exoneration
from commissions.models.refinancing import RefinancingRequest
from commissions.models.statements import (
    CommissionLine,
    CommissionMonth,
    CommissionStatement,
    OfficeTarget,
)

__all__ = [
    "CommissionLine",
    "CommissionMonth",
    "CommissionStatement",
    "Exoneration",
    "OfficeTarget",
    "RefinancingRequest",
]
