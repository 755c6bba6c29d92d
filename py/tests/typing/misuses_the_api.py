# Must NOT pass mypy (test_typing.py checks each error is reported): proves the stubs are used.
from __future__ import annotations

import certless
import certless.aio

certless.Credential(tenant=1)  # E: unexpected keyword
certless.Credential(connect_timeout="5")  # E: str is not float
token: str = certless.Credential().get_token("s")  # E: AccessToken is not str
certless.Credential().get_token(1)  # E: scopes are str


async def f() -> None:
    certless.aio.Credential().get_token("s").token  # E: coroutine has no attribute token
