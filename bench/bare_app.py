"""The baseline for the ingest benchmark: a FastAPI endpoint that reads the body and answers 202.

It runs under the same uvicorn configuration as ``runbookd serve`` (runbookd/cli/serve.py): one
worker, ``loop``/``http`` left on "auto" (uvloop and httptools when installed, which
``uvicorn[standard]`` brings), no access log, lifespan on. Only the application differs, so the
ratio of the two throughputs is the cost of what runbookd does with a webhook.

Run: ``python bench/bare_app.py --port 8099`` (what bench/ingest_bench.py does).
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def make_app() -> FastAPI:
    app = FastAPI(title="bare")

    @app.post("/api/v1/alerts/alertmanager", status_code=202)
    async def alertmanager(request: Request) -> JSONResponse:
        await request.body()  # read it all, as the real endpoint must before it can answer
        # The same response body as runbookd's, so both sides send the same bytes back.
        return JSONResponse({"accepted": 1, "duplicates": 0}, status_code=202)

    @app.get("/readyz")
    async def readyz() -> dict[str, bool]:
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Mirrors runbookd.server.serve.serve with access_log=false and log level warning.
    config = uvicorn.Config(
        make_app(),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
