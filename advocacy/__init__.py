"""Advocacy: posting rights, the eligibility API, webhooks, the advocacy hub, the draft checker."""


def init_app(app) -> None:
    from . import api, services, views, webhooks

    services.connect_signals()
    services.connect_rights_cache()
    webhooks.init_app(app)
    api.init_app(app)
    views.init_app(app)
