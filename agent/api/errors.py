"""Every error as JSON with a clear ``detail``; validation errors name the field path."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from agent.api.jobs import JobsBusyError, JobStateError
from agent.evolve.proposals import NoProposal
from agent.evolve.refinement import StaleRefinement
from agent.evolve.versions import SkillFileError
from agent.evolve.workbench import UnknownSkillError
from agent.inputs import InputError, validation_message
from agent.memory import DatabaseUnavailableError, InvalidInputError, NotFoundError, QueueStateError
from agent.memory.db import (
    database_problem,
    describe_database,
    did_not_answer,
    first_line_said,
    unavailable_reason,
)

log = logging.getLogger(__name__)
LOCATIONS = ("body", "query", "path", "header")
RETRY_AFTER_S = "30"
UNPARSED_BODY = "There was an error parsing the body"  # FastAPI's detail for a body it could not parse at all
Location = Sequence[str | int]  # ("body", "alerts", 0, "labels"), ("path", "case_id")
# a refusal's message that opens with the field it is about: ``decision: must be one of …``
NAMED_FIELD = re.compile(r"(?P<field>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*): (?P<message>.+)", re.DOTALL)
# refusals of what the path names in its present state (a queue item that did not fail, a case not corrected as
# wrong, a refinement job not done), not of a field of the body
STATE_ERRORS = (QueueStateError, JobStateError, NoProposal)


def field_path(loc: Sequence[Any]) -> str:
    """``("body", "alerts", 0, "labels")`` → ``alerts[0].labels``; query/path/header keep their prefix."""
    parts = list(loc)
    prefix = ""
    if parts and parts[0] in LOCATIONS:
        head = parts.pop(0)
        prefix = "" if head == "body" else f"{head}."
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return prefix + text if text else (prefix.rstrip(".") or "body")


def problems(errors: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """``[{field, message}]`` for pydantic/FastAPI error dicts; bad JSON says where it broke."""
    found = []
    for error in errors:
        if error.get("type") == "json_invalid":
            position = error["loc"][-1] if error.get("loc") else "?"
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            found.append({"field": "body", "message": f"not valid JSON at character {position}: {reason}"})
            continue
        found.append({"field": field_path(error.get("loc", ())), "message": validation_message(error)})
    return found


def invalid_request(*found: tuple[Location, str]) -> RequestValidationError:
    """The error to raise for a request refused by a route's own checks, one ``(location, message)`` per problem
    (``(("body", "skill"), "no Skill named 'x'")``): answered as every invalid request is, a 422 whose ``errors``
    name each field (``skill``, ``path.case_id``)."""
    return RequestValidationError([{"loc": tuple(loc), "msg": said, "type": "value_error"} for loc, said in found])


def refusal_problem(request: Request, exc: Exception) -> dict[str, str]:
    """``{field, message}`` for a refusal raised below the routes (a correction that does not fit its case, a queue
    item that did not fail): the field its message opens with (``decision: …``; a path or query parameter's with
    its prefix, ``path.name``), else what the path names for a refusal of its state (``path.queue_id``), else the
    body."""
    message = str(exc)
    if named := NAMED_FIELD.fullmatch(message):
        name, message = named["field"], named["message"]
    elif isinstance(exc, STATE_ERRORS) and request.path_params:
        name = list(request.path_params)[-1]
    else:
        return {"field": "body", "message": message}
    where = next((f"{w}." for w, params in (("path", request.path_params), ("query", request.query_params))
                  if name in params), "")
    return {"field": where + name, "message": message}


def validation_response(errors: Iterable[dict[str, Any]]) -> JSONResponse:
    """422 with one ``field: message`` line per problem in ``detail`` and the list in ``errors``."""
    return problems_response(problems(errors))


def problems_response(listed: list[dict[str, str]], status_code: int = 422) -> JSONResponse:
    """422 (or ``status_code``) for problems already named ``{field, message}``."""
    detail = "invalid request: " + "; ".join(f"{p['field']}: {p['message']}" for p in listed)
    return JSONResponse(status_code=status_code, content={"detail": detail, "errors": listed})


def not_json_response(request: Request) -> JSONResponse:
    """415 for a body sent under another content type than JSON's (FastAPI then validates its raw bytes, and
    pydantic's answer, "Input should be a valid dictionary", does not say what was wrong)."""
    got = (request.headers.get("content-type") or "no content-type")[:100]
    message = f"must be JSON sent with content-type: application/json (got {got})"
    return problems_response([{"field": "body", "message": message}], status_code=415)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if isinstance(exc.body, bytes):  # a JSON body is parsed before validation; raw bytes were not sent as JSON
        return not_json_response(request)
    return validation_response(exc.errors())


def unreadable_body(cause: BaseException | None) -> str | None:
    """Why a body FastAPI could not parse at all was unreadable, in words, or None when the cause is another:
    bytes that are not UTF-8 text (where), JSON nested deeper than the parser goes."""
    if isinstance(cause, UnicodeDecodeError):  # JSON is read as UTF-8 unless its first bytes say UTF-16 or 32
        return f"is not valid text ({cause.encoding}): {cause.reason} at byte {cause.start}"
    if isinstance(cause, RecursionError):
        return "is JSON nested too deeply to read"
    return None


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own answer to an HTTP error, but for a body it could not parse at all ("There was an error parsing
    the body"): a 400 naming the body and why, in the shape of every other bad request."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == UNPARSED_BODY and (why := unreadable_body(exc.__cause__)) is not None:
        return problems_response([{"field": "body", "message": why}], status_code=400)
    return await http_exception_handler(request, exc)


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc)})


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return problems_response([refusal_problem(request, exc)])


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=409, content={"detail": str(exc)})


async def _busy(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": str(exc)}, headers={"Retry-After": RETRY_AFTER_S})


def database_gone(url: Any, exc: BaseException) -> str:
    """The detail of a 503 for a memory database (at ``url``) that did not answer: which one (never its password)
    and why, on one line."""
    if isinstance(exc, DatabaseUnavailableError):
        return f"database unavailable: {exc}; retry later"
    return f"database unavailable: {describe_database(url)}: {unavailable_reason(exc)}; retry later"


def database_failure(url: Any, exc: BaseException) -> str | None:
    """The detail for a memory database (at ``url``) that failed: one that did not answer (:func:`database_gone`),
    else the line a command ends with (``db.database_problem``: its schema upgrade failed, naming the revision; its
    schema not current, naming the table or column and how to migrate; another failure, a read-only file); None for
    any other error."""
    return database_gone(url, exc) if did_not_answer(exc) else database_problem(url, exc)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After for a database that did not answer (unreachable, locked, its connection dropped); a 500
    naming the problem for a schema that is not current or another failure of the database (a read-only file: every
    retry would meet it again), on one line, never the SQL; a row it refuses (a value too long for its column) as a
    500 with the first line of what it said, never the SQL nor the values."""
    detail = database_failure(request.app.state.bianque.memory.engine.url, exc)
    if detail is None:  # a row it refuses (a value too long for its column): what it said, not the SQL nor the values
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}: "
                                                                f"{first_line_said(exc)}"})
    gone = did_not_answer(exc)
    log.log(logging.WARNING if gone else logging.ERROR, "%s %s: %s", request.method, request.url.path, detail)
    return JSONResponse(status_code=503 if gone else 500, content={"detail": detail},
                        headers={"Retry-After": RETRY_AFTER_S} if gone else None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}: {exc}"})


def install_error_handlers(app: FastAPI) -> None:
    """Map validation, not-found (a case, a Skill, a version, a job) and bad-input errors (a case that is not
    corrected, a refinement that was rejected) to 422/404/422 (every 422 listing its ``errors``), a body not sent as
    JSON to 415, one that cannot be read at all (not UTF-8, nested too deeply) to a 400 saying why, a Skill changed
    under a refinement or a Skill file that cannot be written (another Skill's file in the way) to 409, a full job
    backlog or a memory database that does not answer (gone mid-run, locked) to 503, a memory database whose schema
    is not current or that fails otherwise (read-only) to a 500 saying so, and anything else to a JSON 500."""
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(UnknownSkillError, _not_found)
    app.add_exception_handler(InvalidInputError, _invalid)
    app.add_exception_handler(InputError, _invalid)
    app.add_exception_handler(NoProposal, _invalid)
    app.add_exception_handler(StaleRefinement, _conflict)
    app.add_exception_handler(SkillFileError, _conflict)
    app.add_exception_handler(JobsBusyError, _busy)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(DatabaseUnavailableError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
