"""The local API server: `chalice local --no-autoreload` with a listen backlog and every method answered.

Built on Chalice's own local dev server (`chalice.local`): the same app loading, stage config
(`.chalice/config.json`, stage "local"), route matching, middleware and API Gateway event shapes.
What differs from `chalice local`:
- a threading server with a listen backlog of `BACKLOG` (the standard library's default is 5: a burst
  of simultaneous clients gets connection resets) and daemon threads;
- a method with no handler in the dev server (TRACE, CONNECT, PROPFIND, any unknown verb) is answered
  405 application/problem+json in the app's shape, not with the standard library's 501 HTML page.
  API Gateway never passes such methods to the function either;
- the app's process-wide state that one Lambda invocation at a time never shares is prepared for
  threads (local/threadsafe.py).

No reloader child: one process, stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, RouteMatcher, ThreadedHTTPServer

from local.threadsafe import prepare_app_for_threads

ROOT = Path(__file__).resolve().parent.parent
BACKLOG = 512  # the kernel caps it at net.core.somaxconn (4096 on current Linux)
PROBLEM_JSON = "application/problem+json"
_ROUTED = frozenset({"GET", "PUT", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS"})  # ChaliceRequestHandler's
MAX_DISCARDED_BODY = 1024 * 1024


class BacklogServer(ThreadedHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True


def method_not_allowed(method: str) -> dict[str, Any]:
    """The app's problem shape (chalicelib/core/errors.py) for a method nobody routes."""
    return {
        "type": "/problems/method-not-allowed",
        "title": "Metoden stöds inte",
        "status": 405,
        "detail": f"Metoden {method} stöds inte här.",
        "code": "method-not-allowed",
    }


class ProblemRequestHandler(ChaliceRequestHandler):
    """Chalice's handler; methods it has no `do_*` for get a 405 problem instead of a 501 page."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        self._routes = app_object.routes  # before the base class handles the request in __init__
        super().__init__(request, client_address, server, app_object, config)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up `do_<METHOD>` and answers 501 when it is missing.
        if name.startswith("do_") and name[3:] not in _ROUTED:
            return self._method_not_allowed
        raise AttributeError(name)

    def _send_error_response(self, error: Any) -> None:
        """The dev server's own errors, in the app's shape. An unknown route is API Gateway's
        MISSING_AUTHENTICATION_TOKEN, which the deployed stack answers as a 404 problem (infra/stack.py)."""
        unknown_route = error.CODE == 403
        status = 404 if unknown_route else int(error.CODE)
        problem = {
            "type": "/problems/not-found" if unknown_route else "/problems/internal-error",
            "title": "Finns inte" if unknown_route else "Tekniskt fel",
            "status": status,
            "detail": "Adressen finns inte." if unknown_route else "Ett oväntat fel inträffade. Försök igen senare.",
            "code": "not-found" if unknown_route else "internal-error",
        }
        body = json.dumps(problem, ensure_ascii=False).encode("utf-8")
        self._send_http_response(status, {"Content-Type": PROBLEM_JSON, "Cache-Control": "no-store"}, body)

    def _allowed_methods(self) -> list[str]:
        """The methods the app routes for this path (the RFC 9110 Allow header), if the path is known."""
        try:
            route = RouteMatcher(list(self._routes)).match_route(self.path).route
        except ValueError:
            return []
        return sorted(set(self._routes[route]) | {"OPTIONS"})

    def _method_not_allowed(self) -> None:
        length = self.headers.get("content-length") or "0"
        if length.isdigit() and int(length) <= MAX_DISCARDED_BODY:
            self.rfile.read(int(length))  # keep the connection usable for the next request
        else:
            self.close_connection = True  # a body we will not read: do not take the next request from it
        if self.headers.get("transfer-encoding"):
            self.close_connection = True
        body = json.dumps(method_not_allowed(self.command), ensure_ascii=False).encode("utf-8")
        self.send_response(405)
        self.send_header("Content-Type", PROBLEM_JSON)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Allow", ", ".join(self._allowed_methods()))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def create_server(host: str, port: int, stage: str = "local", project_dir: Path = ROOT) -> LocalDevServer:
    """What `chalice local` builds (chalice.cli.create_local_server), with our server and handler."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.validate import validate_routes
    from chalice.local import CustomLocalChalice, LocalChalice

    factory = CLIFactory(str(project_dir), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app_obj = config.chalice_app  # imports app.py with the stage's environment variables applied
    validate_routes(app_obj.routes)
    prepare_app_for_threads()  # requests run in threads of this one process
    # As chalice.local.create_local_server: the thread-local current_request of the dev server.
    CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
    app_obj.__class__ = CustomLocalChalice
    return LocalDevServer(app_obj, config, host, port, handler_cls=ProblemRequestHandler, server_cls=BacklogServer)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.api_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--stage", default="local")
    args = parser.parse_args(argv)
    # As `chalice local`: the app's log lines on stdout, as they would go to CloudWatch in Lambda.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    sys.path.insert(0, str(ROOT))
    create_server(args.host, args.port, args.stage).serve_forever()


if __name__ == "__main__":
    main()
