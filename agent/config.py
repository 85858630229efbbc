"""Run settings: one class, prefix ``BIANQUE_``, all state under ``BIANQUE_HOME``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError


@dataclass(frozen=True)
class CaseData:
    """Where live cases' data is kept (one bundle per case id, ``agent.bundles.captured``), and for how long a case no
    one corrected keeps it."""

    root: Path
    keep_s: float

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What each HTTP endpoint setting looks like, for the error when one is given without its scheme.
EXAMPLE_URLS = {"llm_base_url": "http://localhost:8080/v1", "prometheus_url": "http://localhost:9090",
                "chroma_url": "http://localhost:8000", "ui_url": "http://localhost:8501",
                "notify_url": "https://hooks.example.com/services/…"}
DATABASE_URL_EXAMPLES = "sqlite:///path/to/bianque.db or postgresql+psycopg://user:pw@host/db"
# Source timeouts one investigation may wait for its sources in all by default (gather_deadline_s). It asks in
# rounds, one after the other (label names, services with data, calls read off labels and logs, the Skill's data in
# rounds of 8): a healthy source answers each in a fraction of a timeout, a hung one had made every round last a
# whole one (six or more in all); three leave a slow source room and halve the wait on a hung one.
GATHER_DEADLINE_TIMEOUTS = 3


def gather_deadline(given_s: float | None, source_timeout_s: float) -> float:
    """One investigation's bound on its waiting for sources: the one given, else GATHER_DEADLINE_TIMEOUTS source
    timeouts (the settings' and a Toolkit's alike)."""
    return given_s or GATHER_DEADLINE_TIMEOUTS * source_timeout_s


def checked_http_url(text: str, example: str, *, secret: bool = False) -> str:
    """``text`` when it is an ``http(s)://host[:port]/path`` URL, else ValueError saying why and showing ``example``;
    a ``secret`` URL's parts are never quoted back."""
    url = urlparse(text)
    try:
        url.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        said = "its port is not a number from 0 to 65535" if secret else masked_url(str(exc))
        raise ValueError(f"not a URL: {said}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"not an http(s) URL: give the scheme and host, e.g. {example}")
    return text


class Settings(BaseSettings):
    """Everything Bian Que can be configured with; every field has a working default."""

    model_config = SettingsConfigDict(env_prefix="BIANQUE_", env_file=".env", extra="ignore", populate_by_name=True)

    home: Path = Field(default=Path.home() / ".bianque", description="Directory holding all state.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in home.")
    skills_dirs: list[Path] = Field(
        default_factory=lambda: [PROJECT_ROOT / "skills"],
        description="Skill directories, subfolders included; later ones override earlier ones by Skill name. "
                    "Setting it replaces the built-in skills/: list that too to keep the built-in (generic) Skills.",
    )
    user_skills_dir: Path | None = Field(default=None, description="User Skills; default home/skills.")
    knowledge_dir: Path = Field(default=PROJECT_ROOT / "knowledge", description="The handbook (markdown).")
    case_data_days: float = Field(
        default=7.0, ge=0, description="Days a live investigation keeps what it read (series, log lines, changes) "
        "as a case bundle in home/case-data, so that a correction of it can be replayed when its Skill is refined; "
        "a corrected case keeps it for good. 0: nothing is kept.",
    )
    observability_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the live log/change store; default SQLite in home."
    )
    chroma_url: str | None = Field(default=None, description="Chroma server URL; default embedded.")
    prometheus_url: str | None = Field(default=None, description="PromQL HTTP API base URL.")
    topology_file: Path | None = Field(default=None, description="Service dependency graph (YAML).")
    service_label: str = Field(
        default="service", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="The label naming the service on live metrics and alerts (e.g. app, job, "
                    "app_kubernetes_io_name), also in a bundle's alert when its event names no service; Skills "
                    "and a bundle's metrics.csv always say `service`.",
    )
    regression_roots: list[Path] | None = Field(
        default=None, validation_alias=AliasChoices("BIANQUE_REGRESSION_ROOTS", "BIANQUE_API_REGRESSION_ROOTS"),
        description="Directories (a JSON list) the HTTP service and the web UI may register a regression directory "
                    "under, and search again when they list or replay it; unset: BIANQUE_HOME and the project's "
                    "examples/; [] refuses every one. The CLI is not confined. BIANQUE_API_REGRESSION_ROOTS, its old "
                    "name, is still read.",
    )

    notify_url: SecretStr | None = Field(
        default=None, description="Webhook that background results are posted to as JSON (scheduled inspections, "
                                  "alerts `serve` investigates): a Slack or Mattermost incoming webhook, or any "
                                  "receiver; unset: they are only stored (see docs/notifications.md).")
    ui_url: str | None = Field(
        default=None, description="Where people open the web UI (e.g. https://bianque.example.com); notifications "
                                  "link each case there (<ui_url>/cases?case=ID).")
    notify_on: Literal["attention", "all"] = Field(
        default="attention", description="Post only results needing attention (serious inspections, alerts needing "
                                         "attention, anything not judged, failures), or all.")
    notify_format: Literal["json", "text"] = Field(
        default="json", description="json: {text, bianque: {…data}}; text: {text} alone (webhooks refusing other "
                                    "fields).")
    notify_timeout_s: float = Field(default=10.0, gt=0, allow_inf_nan=False,
                                    description="Limit on one post of a notification, seconds.")
    notify_repeat_s: float = Field(
        default=4 * 3600.0, ge=0, allow_inf_nan=False,
        description="The same news from one origin (a schedule's level and items, or a failure) is not posted again "
                    "sooner, seconds, by any process sharing the database; 0: every run.")
    notify_digest: str | None = Field(
        default=None, description="A crontab (5 fields, UTC; e.g. `0 9 * * *`) on which the scheduler posts one "
                                   "notification listing the alerts judged not needing attention since the last "
                                   "(only when there are some); unset: no digest.")
    notify_digest_max: int = Field(default=20, gt=0, le=200,
                                   description="Alerts a digest lists at most (the rest counted: \"and K more\").")

    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    llm_api_key: SecretStr | None = Field(default=None)
    llm_model: str = Field(default="gpt-4o-mini", max_length=180,
                           description="The model's name; a run records its reasoner as `llm:<model>` or "
                                       "`fail-safe over llm:<model>` in a 200-character column.")
    llm_timeout_s: float = Field(default=60.0, gt=0, description="Limit on one LLM request, seconds.")
    llm_max_retries: int = Field(default=2, ge=0)
    llm_max_tokens: int = Field(default=1024, ge=0, description="Cap on the tokens of one answer; 0: no cap.")
    llm_max_findings: int = Field(
        default=30, gt=0, description="Findings shown to the model (strongest, round-robin); small models want fewer."
    )
    llm_investigation_timeout_s: float = Field(
        default=180.0, ge=0, description="Limit on all LLM calls of one investigation (the Skill choice and the "
                                         "verdict's answers and retries), seconds; 0: none."
    )
    embedding_model: str | None = Field(
        default=None, description="Embeddings model at the LLM endpoint; default the local ONNX model."
    )

    source_timeout_s: float = Field(default=15.0, gt=0, allow_inf_nan=False,
                                    description="Limit on one query to a data source, seconds.")
    gather_deadline_s: float | None = Field(
        default=None, gt=0, allow_inf_nan=False,
        description="Limit on all the waiting of one investigation for its data sources, seconds (its questions "
                    "one after the other, each still within source_timeout_s); what is unanswered by then is "
                    f"missing data. Default {GATHER_DEADLINE_TIMEOUTS} × source_timeout_s.",
    )
    max_series_per_signal: int = Field(
        default=200, gt=0, description="Series kept per Skill signal and service (one query); the rest is dropped "
                                       "and the report says the answer was truncated.")
    max_log_lines: int = Field(
        default=20000, gt=0, description="Log lines read per Skill log request at most (a Skill's own `limit` may "
                                        "ask for fewer).")
    max_bundle_file_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0,
        description="A bundle's logs.jsonl or changes.jsonl (gzip: uncompressed) larger than this is refused "
                    "(a log line takes about 1 KB of memory once read).",
    )
    max_bundle_file_lines: int = Field(
        default=2_000_000, gt=0, description="A bundle's logs.jsonl or changes.jsonl with more lines is refused."
    )
    max_metrics_file_bytes: int = Field(
        default=1024 * 1024 * 1024, gt=0,
        description="A bundle's metrics.csv (gzip: uncompressed) larger than this is refused (a sample takes "
                    "about 40 bytes of memory once read).",
    )
    max_metrics_file_lines: int = Field(
        default=20_000_000, gt=0, description="A bundle's metrics.csv with more lines is refused."
    )
    max_query_series: int = Field(
        default=10_000, gt=0, description="A metric query (Prometheus or bundle) answering more series is refused."
    )
    max_query_points: int = Field(
        default=2_000_000, gt=0, description="A metric query answering more points in all is refused."
    )

    @field_validator("llm_base_url", "prometheus_url", "chroma_url", "ui_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An HTTP endpoint (the LLM's, the PromQL server's, a Chroma server's) as an ``http(s)://host[:port]/path``
        URL (blank: unset); without the scheme (``localhost:8080/v1``) every call would fail as a connection error,
        retried, at run time."""
        if value is None or not value.strip():
            return None
        return checked_http_url(value.strip(), EXAMPLE_URLS[info.field_name])

    @field_validator("notify_url")
    @classmethod
    def _notify_url(cls, value: SecretStr | None) -> SecretStr | None:
        """The notification webhook as an http(s) URL (blank: unset); checked as the other endpoints are, its value
        never shown (a chat webhook's path is its secret)."""
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(checked_http_url(value.get_secret_value().strip(), EXAMPLE_URLS["notify_url"], secret=True))

    @field_validator("notify_digest")
    @classmethod
    def _digest_cron(cls, value: str | None) -> str | None:
        """The digest's crontab (blank: unset): five fields here; each field is read when the scheduler starts
        (:func:`agent.notify.digest.digest_trigger`, which names this variable when one is wrong)."""
        if value is None or not value.strip():
            return None
        if len(value.split()) != 5:
            raise ValueError(f"expected a crontab of 5 fields (minute hour day month weekday, UTC), e.g. 0 9 * * *, "
                             f"got {len(value.split())}")
        return " ".join(value.split())

    @field_validator("gather_deadline_s", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        """A blank number (``BIANQUE_GATHER_DEADLINE_S=``) is unset, as a blank URL is."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("home")
    @classmethod
    def _home(cls, value: Path) -> Path:
        """The state directory: created on first use, so it need not exist, but a file in its place is refused here
        rather than met as a traceback by the first database or store opened in it."""
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @field_validator("knowledge_dir")
    @classmethod
    def _existing_dir(cls, value: Path) -> Path:
        """A directory that is read, never created (the handbook): one that is not there is a typo, said here
        rather than leaving investigations without a handbook and without a word."""
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @field_validator("skills_dirs")
    @classmethod
    def _existing_dirs(cls, value: list[Path]) -> list[Path]:
        """Each Skill directory exists (see ``_existing_dir``): a missing one had left only "no Skill fits"."""
        for directory in value:
            cls._existing_dir(directory)
        return value

    @field_validator("database_url", "observability_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """A SQLAlchemy URL (blank: the SQLite file in home); one it cannot read (no scheme, a port that is not a
        number) is refused at settings load, as the HTTP endpoints are, not met as a traceback by the first query.
        So is a SQLite file in a directory that does not exist: a mistyped path would otherwise be met by a new,
        empty database (only the default file in home has its directory made)."""
        if value is None or not value.strip():
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value.strip())
        except (ArgumentError, ValueError):
            raise ValueError(f"not a database URL: expected e.g. {DATABASE_URL_EXAMPLES}") from None
        in_memory = url.database in (None, "", ":memory:") or "mode=memory" in str(url)
        if url.get_backend_name() == "sqlite" and not in_memory:
            parent = Path(url.database).expanduser().parent
            if not parent.is_dir():
                raise ValueError(f"the SQLite file's directory {parent} does not exist (create it, or correct the "
                                 "path): no new, empty database is made there")
        return value.strip()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'bianque.db'}"

    @property
    def case_data(self) -> CaseData | None:
        """Where live cases' data is kept as bundles, and how long (``case_data_days``); None when it is not kept."""
        return CaseData(self.home / "case-data", self.case_data_days * 86400.0) if self.case_data_days else None

    @property
    def resolved_observability_url(self) -> str:
        return self.observability_url or f"sqlite:///{self.home / 'observability.db'}"

    @property
    def resolved_user_skills_dir(self) -> Path:
        return self.user_skills_dir or self.home / "skills"

    @property
    def resolved_gather_deadline_s(self) -> float:
        return gather_deadline(self.gather_deadline_s, self.source_timeout_s)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url)

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


LIST_AS_JSON = 'a list is written as JSON, e.g. ["a", "b"]'


class SettingsError(ValueError):
    """A ``BIANQUE_*`` variable that does not validate: the message names it and what it got."""


def variable(model: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``model`` (``BIANQUE_LLM_TIMEOUT_S``); a setting read by its
    aliases (a new name and its old one) is named by the one given, which its errors are located at."""
    if field not in model.model_fields:
        return field.upper()
    return f"{model.model_config.get('env_prefix', '')}{field}".upper()


def masked_url(text: str) -> str:
    """``text`` with what stands between a URL user's ``:`` and the last ``@`` masked (``admin:***@prom:9090``),
    whether or not it parses as a URL: what settings errors and database errors show of a value."""
    scheme, sep, rest = text.partition("://") if "://" in text else ("", "", text)
    authority, path = re.match(r"([^/?#]*)(.*)", rest, re.S).groups()  # type: ignore[union-attr]
    userinfo, at, host = authority.rpartition("@")
    if not at:  # no credentials (an @ in the path or query is no password)
        return text
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}{sep}{user}{colon}{'***' if colon else ''}@{host}{path}"


def _shown(value: object) -> str:
    return repr(masked_url(value) if isinstance(value, str) else value)


def invalid_settings(error: ValidationError, model: type[BaseSettings]) -> SettingsError:
    """``error`` (from validating ``model``) as one line per variable: ``invalid setting: BIANQUE_X: why (got 'v')``;
    a secret's value is never shown."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        field = model.model_fields.get(name)
        secret = field is not None and SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
        got = "" if secret or "input" not in problem else f" (got {_shown(problem['input'])})"
        why = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        if problem.get("type") == "list_type" and isinstance(problem.get("input"), str):  # an alias is not parsed
            why += f"; {LIST_AS_JSON}"
        lines.append(f"{variable(model, name)}: {why}{got}")
    return SettingsError("invalid setting: " + "; ".join(lines))


def unparsed_setting(error: SourceError, model: type[BaseSettings]) -> SettingsError:
    """``error`` (pydantic-settings could not parse a variable: a list setting is read as JSON) as one line naming
    the variable, why and what it got."""
    field = re.search(r'field "(\w+)"', str(error))
    if field is None:
        return SettingsError(f"invalid setting: {error}")
    name = variable(model, field[1])
    value = os.environ.get(name)
    got = "" if value is None else f" (got {_shown(value)})"
    why = f"not JSON ({error.__cause__})" if error.__cause__ is not None else str(error)
    return SettingsError(f"invalid setting: {name}: {why}; {LIST_AS_JSON}{got}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call ``get_settings.cache_clear()`` after changing env); SettingsError when
    a variable does not validate."""
    try:
        return Settings()
    except ValidationError as exc:
        raise invalid_settings(exc, Settings) from None
    except SourceError as exc:  # a list setting that is not JSON (BIANQUE_SKILLS_DIRS=skills)
        raise unparsed_setting(exc, Settings) from None
