"""Advocacy: posting rights derived from certificates, and the eligibility API."""


def init_app(app) -> None:
    from . import api

    api.init_app(app)
