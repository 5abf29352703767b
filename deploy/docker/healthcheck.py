"""The image's HEALTHCHECK: exit 0 when runbookd's /healthz answers 200, else 1 and why.

Standard library only (the slim image has no curl). The URL is ``RUNBOOKD_HEALTHCHECK_URL``, else
the first argument, else plain HTTP on 127.0.0.1:8080. The environment wins over the argument so
that a container started with ``server.tls`` can switch its check to https:// without a new image
(the image's HEALTHCHECK passes the plain URL). ``RUNBOOKD_HEALTHCHECK_CA_FILE`` names the PEM CA
that signed the server's certificate, for a private CA; without it the system CAs are trusted.
The certificate is always verified, host name included: a check that accepts any certificate
would report healthy a port that some other process answers.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

DEFAULT_URL = "http://127.0.0.1:8080/healthz"


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    # cafile=None loads the system CAs, so the check also works with a public certificate.
    return ssl.create_default_context(cafile=ca_file or None)


def main(argv: list[str], environ: Mapping[str, str] = os.environ) -> int:
    url = environ.get("RUNBOOKD_HEALTHCHECK_URL") or (argv[1] if len(argv) > 1 else DEFAULT_URL)
    ca_file = environ.get("RUNBOOKD_HEALTHCHECK_CA_FILE")
    try:
        context = _tls_context(ca_file) if url.startswith("https:") else None
        with urllib.request.urlopen(url, timeout=4, context=context) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        # A missing or unreadable CA file is an OSError too: named, like any other cause.
        where = f"{url} (CA file {ca_file})" if ca_file else url
        print(f"{where}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
