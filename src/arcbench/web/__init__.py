"""The web app behind `arcbench serve-ui`: a thin FastAPI shell over the library.

    app.py      the FastAPI app: routers, error statuses, static files, the guard
    guard.py    the rules every request meets first (host, token, origin, body size)
    session.py  signed session cookies (a display name, admin or not)
    deps.py     what handlers depend on; the one module that knows the store's API, and the runs
    schemas.py  every request and response body, as pydantic models
    live.py     server-sent events when a store's change counter moves
    routes/     one router per resource: tasks, variations, traces, runs, session, events
    server.py   binding, uvicorn, opening the browser
    static.py   where the front end's files are (the wheel, or the checkout's web/)

Only this package imports fastapi, starlette and uvicorn (ruff's banned-api rule holds that).
"""
