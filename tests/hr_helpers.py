"""Shared helpers for the HR tests: a roster of two departments and an HR login."""

from __future__ import annotations

from lms_plugin.core.models import Role

STAFF = [
    {"email": "lee@acme.test", "name": "Lee Manager", "department": "Sales",
     "location": "Berlin", "hire_date": "2020-01-15", "external_id": "E1"},
    {"email": "sam@acme.test", "name": "Sam Okafor", "department": "Sales",
     "manager_email": "lee@acme.test", "location": "Berlin", "hire_date": "2026-11-01",
     "external_id": "E2"},
    {"email": "ana@acme.test", "name": "Ana Lima", "department": "Support",
     "manager_email": "lee@acme.test", "location": "Lisbon", "hire_date": "2026-10-01",
     "external_id": "E3"},
]


def hr_org(make, slug: str = "acme"):
    """An organisation with an HR partner, a course and three employees from the roster."""
    org = make.org(slug, f"{slug.title()} Ltd")
    hr = make.user(org, f"hr@{slug}.test", name="Harper HR", roles=(Role.HR,))
    course = make.course(org)
    return org, hr, course
