"""The package version, in a leaf module: anything may read it without importing the facade
(``pixseek/__init__.py``, which sits above every layer)."""
__version__ = "0.1.0"
