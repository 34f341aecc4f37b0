"""The local AWS emulator process: moto's server with our patches, IAM enforcement on.

    python -m payments_platform.core.local.emulator.server --host 127.0.0.1 --port 0 --ready-file PATH

Binds the port (0 = a free one), patches moto (moto_fidelity, moto_performance,
moto_authorization, moto_event_sources, moto_rotation -- ``--lambda-runtime-file`` names the local gateway's ready
file), turns IAM enforcement on from the first request, seeds the administrator the provider
signs with (emulator_admin), then writes the ready file atomically -- JSON
``{"pid", "host", "port", "endpoint"}`` -- and serves (werkzeug, threaded) until SIGTERM or
SIGINT, or until the process named by ``--parent-pid`` is gone: exit 0, ready file removed. A
port that cannot be bound: one line on stderr, exit 2. The fault rules of the run directory (the
ready file's) apply to every call (fault_injection.py; ``payments-platform local fault``).
``--snapshots-dir`` turns on the two routes ``local up`` saves and restores the emulator's whole state through
(snapshot.py). ``--endpoint-file`` gets the same JSON as soon as the port is bound, before moto is ready, so
``local up`` can synthesize against the endpoint while moto starts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from payments_platform.core.ops import garbage_collection

EXIT_BIND_FAILED = 2
# Lets a stopping server finish the requests in flight (Terraform's last calls) before exit.
SHUTDOWN_POLL_SECONDS = 0.5


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="emulator_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--ready-file", type=Path, required=True, help="where to write {pid, host, port, endpoint} once serving"
    )
    parser.add_argument(
        "--endpoint-file",
        type=Path,
        help="where to write the same JSON as soon as the port is bound, before moto is ready (removed on exit)",
    )
    parser.add_argument("--log-file", type=Path, help="append the server's warnings and errors here (default: stderr)")
    parser.add_argument(
        "--lambda-runtime-file",
        type=Path,
        help="the local gateway's ready file: where Secrets Manager rotation invokes the deployed rotation function",
    )
    parser.add_argument(
        "--failure-journal",
        type=Path,
        help="append one JSON line per request answered 5xx (NotImplemented included), for `local up` to watch",
    )
    parser.add_argument(
        "--snapshots-dir",
        type=Path,
        help="where POST /_payments/snapshot and /_payments/restore write and read (default: no such routes)",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        help="stop (as on SIGTERM) once this process is gone, so a killed launcher leaves no emulator behind",
    )
    return parser.parse_args(argv)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; OSError when the address is taken or invalid."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does: TIME_WAIT is not "in use"
        listener.bind((host, port))
        listener.listen(128)
    except BaseException:
        listener.close()
        raise
    return listener


def enforce_iam_from_the_first_request() -> None:
    """moto reads INITIAL_NO_AUTH_ACTION_COUNT into moto.settings at import; set both."""
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0


def prepare_moto(lambda_runtime_file: Path | None = None) -> None:
    """Everything that must hold before the first request: patches, IAM enforcement, the admin."""
    enforce_iam_from_the_first_request()
    from payments_platform.core.local.emulator import admin as emulator_admin
    from payments_platform.core.local.emulator import (
        moto_authorization,
        moto_bucket_policy,
        moto_event_sources,
        moto_fidelity,
        moto_performance,
        moto_rotation,
    )

    moto_fidelity.install()
    moto_performance.install()
    moto_authorization.install()
    moto_rotation.install(lambda_runtime_file)
    moto_event_sources.install()
    moto_bucket_policy.apply()
    emulator_admin.keep_administrator_across_resets()
    emulator_admin.seed_administrator()


def address(listener: socket.socket) -> dict[str, Any]:
    """What the ready (and endpoint) file holds."""
    host, port = listener.getsockname()[:2]
    endpoint_host = f"[{host}]" if ":" in host else host
    return {"pid": os.getpid(), "host": host, "port": port, "endpoint": f"http://{endpoint_host}:{port}"}


def write_ready_file(path: Path, ready: dict[str, Any]) -> None:
    """Atomically: a reader sees no file or the whole JSON, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(ready, handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def configure_logging(log_file: Path | None) -> None:
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    # werkzeug logs every request at INFO; Terraform makes hundreds of them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def serve(
    listener: socket.socket,
    ready_file: Path,
    stop: threading.Event,
    parent_pid: int | None = None,
    failure_journal: Path | None = None,
    snapshots_dir: Path | None = None,
) -> int:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from payments_platform.core.local.emulator.keep_alive import KeepAliveRequestHandler

    host, port = listener.getsockname()[:2]
    ready = address(listener)
    from payments_platform.core.local.emulator.fault_injection import FaultInjectingApp
    from payments_platform.core.local.faults import FaultBook

    app: Any = DomainDispatcherApplication(create_backend_app)
    if failure_journal is not None:
        from payments_platform.core.local.emulator.failure_journal import FailureJournal

        app = FailureJournal(app, failure_journal)
    from payments_platform.core.local.emulator.retried_calls import RetriedCalls

    app = RetriedCalls(app)  # inside the fault injection, which marks the attempts it touched
    # Outermost: an injected fault is not the emulator's failure, so the journal never sees one.
    faults = FaultBook(ready_file.parent, log=logging.getLogger("payments.faults").warning)
    app = FaultInjectingApp(app, faults)
    if snapshots_dir is not None:  # warm start (issue #31): `local up` saves and restores the whole state
        from payments_platform.core.local.emulator.snapshot import SnapshotRoutes

        app = SnapshotRoutes(app, snapshots_dir)
    server = make_server(
        host,
        port,
        app,
        threaded=True,
        request_handler=KeepAliveRequestHandler,
        fd=listener.fileno(),
    )
    listener.close()  # werkzeug serves a duplicate of the descriptor

    thread = threading.Thread(target=server.serve_forever, name="emulator-server", daemon=True)
    thread.start()
    try:
        write_ready_file(ready_file, ready)
        while not stop.wait(SHUTDOWN_POLL_SECONDS):
            if parent_pid is not None and not process_alive(parent_pid):
                logging.getLogger(__name__).warning("parent process %d is gone: stopping", parent_pid)
                break
            if not thread.is_alive():
                logging.getLogger(__name__).error("the emulator's server thread stopped unexpectedly")
                return 1
    finally:
        server.shutdown()
        server.server_close()
        ready_file.unlink(missing_ok=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # First: a stop request while moto is still importing ends the process cleanly too.
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    args = parse_args(argv)
    garbage_collection.collect_less_often()
    try:
        listener = bind(args.host, args.port)
    except OSError as error:
        print(f"emulator: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return EXIT_BIND_FAILED
    try:
        if args.endpoint_file is not None:  # connections wait in the listen queue until moto serves
            write_ready_file(args.endpoint_file, address(listener))
        configure_logging(args.log_file)
        prepare_moto(args.lambda_runtime_file)
        garbage_collection.freeze_what_is_loaded()  # moto's backends and models: here for good
        if stop.is_set():
            return 0
        return serve(listener, args.ready_file, stop, args.parent_pid, args.failure_journal, args.snapshots_dir)
    except OSError as error:  # the ready file or the log file cannot be written
        print(f"emulator: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_BIND_FAILED
    finally:
        listener.close()
        if args.endpoint_file is not None:
            args.endpoint_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
