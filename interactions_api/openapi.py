"""Write (or check) ``openapi.json`` next to this package, generated from the resolver's routes.

python -m interactions_api.openapi          # rewrite interactions_api/openapi.json
python -m interactions_api.openapi --check  # exit 1 if the committed file is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"
TITLE = "cw-analytics interactions API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Records user interactions and serves them back: the serverless workload (API Gateway -> Lambda -> "
    "RDS PostgreSQL) that cw-analytics monitors. "
    "Every error is an `ErrorResponse` naming the offending fields."
)


def render() -> str:
    # Importing the app needs no database and no environment.
    from interactions_api.app import app

    return app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION) + "\n"


def main(argv: list[str]) -> int:
    document = render()
    if "--check" in argv:
        current = OPENAPI_PATH.read_text(encoding="utf-8") if OPENAPI_PATH.exists() else ""
        if current != document:
            print(f"{OPENAPI_PATH} is stale: run python -m interactions_api.openapi", file=sys.stderr)
            return 1
        return 0
    OPENAPI_PATH.write_text(document, encoding="utf-8")
    print(f"wrote {OPENAPI_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
