"""The HTML report of a run: one self-contained file (figures, styles and script inline).

>>> from harness.report import build_report
>>> build_report("reports/leakage.sqlite", output="reports/leakage.html")   # doctest: +SKIP
PosixPath('reports/leakage.html')
"""

from harness.report.compare import BaselineError
from harness.report.render import build_report, render_report

__all__ = ["build_report", "render_report", "BaselineError"]
