"""Serving the app: refuse to expose it without a token, bind, run uvicorn, open the browser.

The socket is bound here, before uvicorn starts, so that a port in use is one clear line and
`--port 0` (any free port) can print the address it got.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from urllib.parse import quote

import uvicorn

from arcbench.errors import ConfigError
from arcbench.settings import WebSettings
from arcbench.store import DATABASE_FILE, DEFAULT_TIMEOUT_S
from arcbench.web.app import AppConfig, create_app
from arcbench.web.live import ChangeFeed
from arcbench.web.session import session_key
from arcbench.web.static import static_dir

GRACEFUL_SHUTDOWN_S = 3
BACKLOG = 128


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or `localhost`): only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def app_config(settings: WebSettings) -> AppConfig:
    """The app's configuration from the command's settings; refuses to expose the app without
    a token, and loads the chosen dataset once, so a bad `--dataset` fails before serving."""
    token = settings.token.get_secret_value() if settings.token else None
    if not token and not is_loopback(settings.host):
        raise ConfigError(
            f"refusing to listen on {settings.host} without an access token: anyone who can "
            "reach it could read and change the store. Give --token TOKEN (or set "
            "ARCBENCH_TOKEN), or listen on 127.0.0.1"
        )
    secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    config = AppConfig(
        default_dataset=settings.dataset,
        extra_datasets=(settings.dataset,),
        data_dir=settings.data_dir,
        store=settings.store or settings.data_dir / DATABASE_FILE,
        store_timeout=settings.store_timeout or DEFAULT_TIMEOUT_S,
        runs_dir=settings.runs,
        static_dir=static_dir(),
        session_key=session_key(secret, settings.data_dir),
        token=token,
        admin_token=admin,
    )
    return config


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port` (port 0: any free port), or one clear error.

    The socket is made with protocol IPPROTO_TCP (not the 0 `socket.create_server` uses):
    asyncio turns Nagle's algorithm off only on connections of such sockets, and with it on,
    every response that goes out in two writes waits ~40 ms for the client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): "
            "give another --port, or stop what is using it"
        ) from None
    return sock


def address(sock: socket.socket, host: str, token: str | None) -> str:
    """The URL to open: the bound host and port, with the token when there is one."""
    port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    return f"http://{shown}:{port}/" + (f"?token={quote(token, safe='')}" if token else "")


class _Server(uvicorn.Server):
    """uvicorn, telling the live-update streams to end as soon as shutdown begins (they would
    otherwise hold the shutdown for its whole grace period)."""

    def __init__(self, config: uvicorn.Config, feed: ChangeFeed) -> None:
        super().__init__(config)
        self._feed = feed

    def handle_exit(self, sig: int, frame: object) -> None:
        self._feed.stopping = True
        super().handle_exit(sig, frame)  # type: ignore[arg-type]


def serve(settings: WebSettings, *, open_browser: bool, announce: Callable[[str], None]) -> None:
    """Serve the app until Ctrl+C; `announce` receives the address once it is listening."""
    config = app_config(settings)
    app = create_app(config)
    app.state.context.dataset(config.default_dataset)
    sock = bind(settings.host, settings.port)
    url = address(sock, settings.host, config.token)
    server = _Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        ),
        app.state.feed,
    )

    def when_started() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            announce(url)
            if open_browser:
                with contextlib.suppress(Exception):  # no browser here: the address was printed
                    webbrowser.open(url)

    threading.Thread(target=when_started, name="arcbench-announce", daemon=True).start()
    with sock:
        server.run(sockets=[sock])
