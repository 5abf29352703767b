"""``log.format: json``: one JSON object per log line, for log pipelines (Loki, Elasticsearch).

Only the record's own fields are written -- time, level, logger, message and, when present, the
exception text. Extra attributes a caller attached to a record are left out on purpose: they are
not reviewed for secrets the way messages are.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """A record as ``{"time", "level", "logger", "message"[, "exception"]}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            # RFC 3339 in UTC with milliseconds, which every log shipper parses without a pattern
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            # the traceback's newlines stay inside the JSON string: still one object per line
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)
