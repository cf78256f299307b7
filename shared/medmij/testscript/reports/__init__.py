"""Reports of a qualification run: JUnit XML for CI, and an HTML page for people."""

from medmij.testscript.reports.html import html_report
from medmij.testscript.reports.junit import junit_xml

__all__ = ["html_report", "junit_xml"]
