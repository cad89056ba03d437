"""HTTP API and web page over a :class:`~pixseek.search.Library`: ``create_app(library, settings)``."""
from pixseek._extras import require

require("server", "fastapi", "python_multipart", "fastapi_offline", feature="pixseek.api")
from pixseek.api.app import create_app  # noqa: E402
from pixseek.api.settings import ApiSettings, settings_from_env

__all__ = ["ApiSettings", "create_app", "settings_from_env"]
