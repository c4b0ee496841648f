"""The HTTP server around :class:`nlu.runtime.Parser`: starlette + uvicorn, no torch.

    from nlu.serve import create_app, run_server
    app = create_app("artifacts/atis")            # an ASGI app for any ASGI server
    run_server("artifacts/atis", port=5005)       # or: nlu serve artifacts/atis

Endpoints: ``POST /parse``, ``POST /model/parse`` (Rasa-compatible), ``POST /parse/batch``, ``GET /health``,
``GET /version``. See ``docs/embedding.md``.
"""

from nlu.serve.app import create_app, run_server

__all__ = ["create_app", "run_server"]
