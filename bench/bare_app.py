"""The ceiling: a FastAPI endpoint that does nothing, served exactly as `gateway serve` serves.

    python -m bench.bare_app --port 8001 [--workers N]

`POST /v1/invoices` reads the request body and answers 201 with a small JSON body, without
parsing it and without any middleware, dependency, database or validation: what is left
is the cost of uvicorn (uvloop + httptools), Starlette's routing and FastAPI's response. The
uvicorn settings are those of `app.cli.serve` (app factory, `workers`, `proxy_headers=False`,
the log level from LOG_LEVEL).
"""

from __future__ import annotations

import argparse
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def create_app() -> FastAPI:
    """The bare app."""
    app = FastAPI(title="bare")

    @app.post("/v1/invoices", status_code=201)
    async def create_invoice(request: Request) -> JSONResponse:
        await request.body()  # the least any POST endpoint does
        return JSONResponse({"id": "inv_bare", "status": "queued"}, status_code=201)

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main() -> None:
    """Serve it with the gateway's uvicorn settings."""
    import uvicorn

    parser = argparse.ArgumentParser(description="The bare FastAPI ceiling.")
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.bare_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=os.environ.get("LOG_LEVEL", "WARNING").lower(),
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
