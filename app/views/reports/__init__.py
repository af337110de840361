"""Manager reports: the pages (filters, CSV) and their charts and tables."""

from app.views.reports.pages import REPORTS, ReportsView

__all__ = ["REPORTS", "ReportsView"]
