"""The session: a display name in a signed cookie, and admin rights for whoever knows the
admin token."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Response, status

from arcbench.web.deps import Context, CurrentUser
from arcbench.web.schemas import SessionIn, SessionOut
from arcbench.web.session import COOKIE, User

router = APIRouter(prefix="/api", tags=["session"])


@router.get("/session")
def get_session(user: CurrentUser) -> SessionOut:
    """Who this browser is signed in as (`name` null: nobody yet)."""
    return SessionOut(name=None) if user is None else SessionOut(name=user.name, admin=user.admin)


@router.post("/session")
def start_session(body: SessionIn, context: Context, response: Response) -> SessionOut:
    """Sign in under a display name (and, with the admin token, as an admin)."""
    admin = body.admin_token is not None
    if admin and not (
        context.admin_token
        and hmac.compare_digest((body.admin_token or "").encode(), context.admin_token.encode())
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "that is not this server's admin token")
    user = User(body.name, admin)
    response.set_cookie(
        COOKIE,
        context.signer.sign(user),
        max_age=context.signer.max_age_s,
        httponly=True,
        samesite="strict",
        path="/",
    )
    return SessionOut(name=user.name, admin=user.admin)


@router.delete("/session")
def end_session(response: Response) -> SessionOut:
    """Sign out: forget the session cookie."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return SessionOut(name=None)
