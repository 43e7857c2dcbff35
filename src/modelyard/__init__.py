"""modelyard: an MLflow-compatible tracking server and model registry.

Importing this package must stay cheap: it is what the light client imports,
so nothing here may pull in the server stack (Starlette, database drivers).
"""

__version__ = "0.1.0"
