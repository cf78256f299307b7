"""Reports of a qualification run: JUnit XML for CI, and an HTML page for people.

Both show bearer tokens masked (:func:`masking.mask_tokens`).
"""

from medmij_stack.testscript.reports.html import html_report
from medmij_stack.testscript.reports.junit import junit_xml
from medmij_stack.testscript.reports.masking import mask_tokens

__all__ = ["html_report", "junit_xml", "mask_tokens"]
