"""``erfa.service.api:create_app``, the name uvicorn's factory, the tests and older scripts use.

The app is composed in service/app.py; this module only keeps the old import path working.
"""
from erfa.service.app import create_app

__all__ = ["create_app"]
