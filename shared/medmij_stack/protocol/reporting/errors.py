"""The one error of the reporting core: input that cannot be turned into figures."""

from __future__ import annotations

__all__ = ["ReportingError"]


class ReportingError(ValueError):
    """Events or arguments that contradict each other; the message names what and where.

    Raised for a month that is not ``YYYY-MM``, a period that ends before it starts, or one
    retrieval attempt (one ``flow_id``) whose events disagree on who, where or how it ended.
    A month without events is no error: it is a report of zeros.
    """
