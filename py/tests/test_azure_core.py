"""certless in the Azure SDK for Python: azure-core's bearer-token policies and its error model."""

from __future__ import annotations

import asyncio
import http.server
import threading
import uuid
from typing import Iterator, List, Optional

import pytest
from azure.core import PipelineClient
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy, BearerTokenCredentialPolicy
from azure.core.rest import HttpRequest

import certless
import certless.aio
from conftest import GRAPH, Emulator


class ResourceServer:
    """A local HTTP server standing in for an Azure service; it records Authorization headers."""

    def __init__(self) -> None:
        self.authorizations: List[Optional[str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.authorizations.append(self.headers.get("Authorization"))
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ResourceServer]:
    s = ResourceServer()
    yield s
    s.close()


def call(client: PipelineClient, url: str) -> int:
    # The policy refuses to send a token over plain http unless told it is fine (loopback test).
    response = client.send_request(HttpRequest("GET", url + "/things"), enforce_https=False)
    return response.status_code


def test_bearer_token_policy_sends_our_token(emu: Emulator, server: ResourceServer) -> None:
    credential = certless.Credential.from_env(emu.env())
    policy = BearerTokenCredentialPolicy(credential, GRAPH)
    client = PipelineClient(base_url=server.url, policies=[policy])
    assert call(client, server.url) == 200
    assert call(client, server.url) == 200
    token = credential.get_token(GRAPH).token
    assert server.authorizations == [f"Bearer {token}"] * 2
    assert emu.counters()["entra_token"] == 1


def test_sdk_client_surfaces_our_failure_as_client_authentication_error(emu: Emulator, server: ResourceServer) -> None:
    env = emu.env()
    env["AZURE_CLIENT_ID"] = str(uuid.uuid4())
    credential = certless.Credential.from_env(env)
    client = PipelineClient(base_url=server.url, policies=[BearerTokenCredentialPolicy(credential, GRAPH)])
    with pytest.raises(ClientAuthenticationError) as caught:
        call(client, server.url)
    assert isinstance(caught.value, certless.TokenExchangeError)
    assert "Entra token exchange failed" in caught.value.message and "certless code 302" in str(caught.value)
    assert server.authorizations == []


def test_async_bearer_token_policy_sets_our_token(emu: Emulator) -> None:
    async def main() -> None:
        credential = certless.aio.Credential.from_env(emu.env())
        policy = AsyncBearerTokenCredentialPolicy(credential, GRAPH)
        request = PipelineRequest(HttpRequest("GET", "https://resource.example/things"), PipelineContext(None))
        await policy.on_request(request)
        token = (await credential.get_token(GRAPH)).token
        assert request.http_request.headers["Authorization"] == f"Bearer {token}"

    asyncio.run(main())
    assert emu.counters()["entra_token"] == 1


def test_azure_core_protocols_at_runtime(emu: Emulator) -> None:
    from azure.core.credentials import SupportsTokenInfo, TokenCredential
    from azure.core.credentials_async import AsyncSupportsTokenInfo, AsyncTokenCredential

    credential = certless.Credential.from_env(emu.env())
    assert isinstance(credential, TokenCredential) and isinstance(credential, SupportsTokenInfo)
    credential_async = certless.aio.Credential.from_env(emu.env())
    assert isinstance(credential_async, AsyncTokenCredential) and isinstance(credential_async, AsyncSupportsTokenInfo)
