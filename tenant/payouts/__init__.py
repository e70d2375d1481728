"""Payout statements: the plays a library's visitors listened to, turned into money for their
rights holders (library-centric, with pro-rata beside it for comparison). Pure computation on
frozen inputs; docs/payouts.md explains the rules with a worked example."""

from tenant.payouts.compute import PayoutInputs, compute_statement
from tenant.payouts.model import (
    CountedPlay,
    PayoutInputError,
    PayoutRules,
    Period,
    RightsHolder,
    Share,
    Subscription,
    Track,
)
from tenant.payouts.periods import check_next_period, close_period, preview_period
from tenant.payouts.statement import (
    UNATTRIBUTED,
    LibraryTotal,
    Line,
    PayoutSignatureError,
    Pool,
    SignedStatement,
    Statement,
    sign_statement,
    verify_statement,
)

__all__ = [
    "UNATTRIBUTED",
    "CountedPlay",
    "LibraryTotal",
    "Line",
    "PayoutInputError",
    "PayoutInputs",
    "PayoutRules",
    "PayoutSignatureError",
    "Period",
    "Pool",
    "RightsHolder",
    "Share",
    "SignedStatement",
    "Statement",
    "Subscription",
    "Track",
    "check_next_period",
    "close_period",
    "compute_statement",
    "preview_period",
    "sign_statement",
    "verify_statement",
]
