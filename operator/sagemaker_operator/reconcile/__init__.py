"""Decisions: naming, rendering AWS requests, and planning what to do (pure), plus executing plans per kind."""
