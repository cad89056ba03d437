"""Pictures of results for people: contact sheets of hits."""
from pixseek.report.sheet import contact_sheet

__all__ = ["contact_sheet"]
