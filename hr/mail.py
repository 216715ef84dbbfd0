"""Sending e-mail: SMTP when MAIL_SERVER is configured, otherwise the log (embedded default)."""

from __future__ import annotations

import logging
import os
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import Flask, current_app

from lms_plugin.core import outbox
from lms_plugin.core.outbox import OutboxMessage

log = logging.getLogger("hr.mail")

MAIL_SETTINGS = {
    # config key: (environment variable, converter, default)
    "MAIL_SERVER": ("MAIL_SERVER", str, None),
    "MAIL_PORT": ("MAIL_PORT", int, 25),
    "MAIL_USERNAME": ("MAIL_USERNAME", str, None),
    "MAIL_PASSWORD": ("MAIL_PASSWORD", str, None),
    "MAIL_USE_TLS": ("MAIL_USE_TLS", lambda v: v.lower() in ("1", "true", "yes"), False),
    "MAIL_USE_SSL": ("MAIL_USE_SSL", lambda v: v.lower() in ("1", "true", "yes"), False),
    "MAIL_DEFAULT_SENDER": ("MAIL_DEFAULT_SENDER", str, "no-reply@cleared-to-post.invalid"),
    "MAIL_TIMEOUT": ("MAIL_TIMEOUT", float, 10.0),
}


def build_message(to: str, subject: str, body: str) -> EmailMessage:
    config = current_app.config
    message = EmailMessage()
    message["From"] = formataddr(("Cleared to Post", config["MAIL_DEFAULT_SENDER"]))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="cleared-to-post")
    message.set_content(body)
    return message


def send_email(to: str, subject: str, body: str) -> None:
    """Send now; raises on any SMTP failure so the outbox retries later."""
    config = current_app.config
    message = build_message(to, subject, body)
    if not config.get("MAIL_SERVER"):
        log.warning("MAIL_SERVER is not set, so this e-mail is written to the log instead "
                    "of being sent:\n%s", message.as_string())
        return
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], int(config["MAIL_PORT"]),
                    timeout=float(config["MAIL_TIMEOUT"])) as smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)


def deliver(message: OutboxMessage) -> None:
    """The outbox handler for ``hr.email``."""
    payload = message.payload
    send_email(payload["to"], payload["subject"], payload["body"])


def init_app(app: Flask) -> None:
    for key, (variable, convert, default) in MAIL_SETTINGS.items():
        if key not in app.config:
            raw = os.environ.get(variable)
            app.config[key] = convert(raw) if raw else default
    from .reminders import TOPIC

    outbox.register_handler(TOPIC, deliver)
