"""Trainer pages (role trainer or admin, own organisation only); filled in by authoring."""

from __future__ import annotations
