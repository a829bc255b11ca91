"""`gankit serve`: trained runs behind an HTTP API and a web page (FastAPI + uvicorn, the `[serve]` extra)."""

from .app import CAPABILITIES, Capability, Limits, create_app
from .runner import BackgroundServer, check_access, listen, require_packages, run_names, run_server

__all__ = ["BackgroundServer", "CAPABILITIES", "Capability", "Limits", "check_access", "create_app", "listen",
           "require_packages", "run_names", "run_server"]
