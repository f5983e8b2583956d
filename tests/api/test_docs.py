"""The API documentation page works offline: every asset comes from this server."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app


def test_docs_reference_no_other_host_and_their_assets_are_served(engine: Engine) -> None:
    """It serves /docs with Swagger UI from the package: no other host, every asset 200."""
    with TestClient(create_app(engine=engine)) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "http://" not in page.text
        assert "https://" not in page.text
        assert "//" not in re.sub(r"<!--.*?-->", "", page.text)
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert {asset.rsplit("/", 1)[-1] for asset in assets} == {
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "favicon-32x32.png",
        }
        for asset in assets:
            assert asset.startswith("/static/swagger/")
            assert client.get(asset).status_code == 200, asset
        assert "SwaggerUIBundle" in client.get("/static/swagger/swagger-ui-bundle.js").text
        assert client.get("/static/swagger/LICENSE").status_code == 200
        assert client.get("/redoc").status_code == 404


def test_docs_carry_the_headers_of_every_page(engine: Engine) -> None:
    """It serves /docs unframeable, uncached, and allowing its own inline script only."""
    with TestClient(create_app(engine=engine)) as client:
        page = client.get("/docs")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    [script] = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
