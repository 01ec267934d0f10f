"""Waivers of selected inspections and officers' own additions (DESIGN.md, issue 13 item 7)."""
