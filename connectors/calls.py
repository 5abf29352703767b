"""What every built-in ``run`` shares: its settings, dry runs, and secrets kept out of what it says.

A built-in's ``run`` is wrapped by :func:`connector_call`, which

- answers a dry run of a call that writes with ``{"dry_run": True}`` and touches nothing;
- masks every secret it knows of in the error message and the result: the ``SecretStr`` values
  of the connector's settings, the values the executor resolved from ``${env:NAME}``
  (``CallContext.secrets``) and the parameters the connector names as secret (a Slack webhook URL,
  a PagerDuty routing key, an ``Authorization`` header); of a secret URL, its path and query too
  (``secret_forms``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import unquote_plus

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from runbookd.connectors.base import (
    CallContext,
    ConnectorError,
    Params,
    PermanentError,
    Result,
    RetryableError,
    Runtime,
    Settings,
)

MASK = "***"

P = TypeVar("P", bound=Params)
S = TypeVar("S", bound=Settings)
Call = Callable[[P, CallContext, Runtime], Awaitable[Result]]


#: Parts of a secret URL shorter than this are not masked on their own (``/``, ``?a=1``):
#: they are too common to say anything, and masking them would garble every message.
MIN_PART = 6


def secret_forms(secret: str) -> set[str]:
    """The secret, and for a URL the parts that messages quote without the rest.

    An error names a request by its URL without the query (``web.target``), and servers echo
    paths and query strings back: when the secret is a whole URL (a Slack webhook, an endpoint
    with ``?token=``), its path, query, query values, user info and fragment are secrets too,
    raw and percent-decoded.
    """
    forms = {secret}
    try:
        url = httpx.URL(secret)
    except (httpx.InvalidURL, TypeError):
        return forms
    if url.scheme not in ("http", "https") or not url.host:
        return forms
    parts = [url.path, url.raw_path.decode("ascii", "replace"), url.fragment]
    query = url.query.decode("ascii", "replace")
    parts += [query, unquote_plus(query), *(v for _, v in url.params.multi_items())]
    parts += [url.userinfo.decode("ascii", "replace"), url.password or ""]
    forms.update(p for p in parts if len(p) >= MIN_PART)
    return forms


class Masker:
    """Replaces every known secret in text and in (nested) results with ``***``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms = {form for s in secrets if s for form in secret_forms(s)}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(forms, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def secret_values(model: BaseModel | None) -> list[str]:
    """Every ``SecretStr`` value in a settings model, also inside its dicts and lists."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(model)
    return found


def settings_of(runtime: Runtime, model: type[S], connector: str) -> S:
    """This call's settings; the model's defaults when config.yaml has no section for it."""
    settings = runtime.settings
    if settings is None:
        try:
            return model()
        except ValidationError as exc:
            needed = sorted({str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing"})
            raise PermanentError(
                f"{connector}: not configured: config.yaml needs a connectors.{connector} "
                f"section with {', '.join(needed)}"
            ) from None
    if not isinstance(settings, model):
        raise PermanentError(
            f"{connector}: settings are a {type(settings).__name__}, not {model.__name__}"
        )
    return settings


def connector_call(
    *,
    secrets: Callable[[P], Iterable[str | None]] | None = None,
    reads: Callable[[P], bool] | None = None,
) -> Callable[[Call[P]], Call[P]]:
    """Wrap a built-in's ``run``: dry runs of writes, and secrets masked on the way out.

    ``secrets`` names the parameters that are secret; ``reads`` says whether a call only reads
    (then a dry run still makes it). Without ``reads`` every call is a write.
    """

    def wrap(run: Call[P]) -> Call[P]:
        @functools.wraps(run)
        async def guarded(params: P, ctx: CallContext, runtime: Runtime) -> Result:
            if ctx.dry_run and not (reads is not None and reads(params)):
                return {"dry_run": True}
            masker = Masker(
                [
                    *ctx.secrets,
                    *secret_values(runtime.settings),
                    *(secrets(params) if secrets is not None else ()),
                ]
            )
            try:
                result = await run(params, ctx, runtime)
            except ConnectorError as exc:
                message = masker.text(str(exc))
                if message == str(exc):
                    raise
                # A new exception without the old one chained: its text held a secret.
                error = RetryableError if isinstance(exc, RetryableError) else PermanentError
                raise error(message) from None
            masked: Result = masker.value(result)
            return masked

        return guarded

    return wrap
