"""HTTP API and web page over a :class:`~pixseek.search.Library`: ``create_app(library, settings)``."""
from pixseek.api.app import create_app
from pixseek.api.settings import ApiSettings, settings_from_env

__all__ = ["ApiSettings", "create_app", "settings_from_env"]
