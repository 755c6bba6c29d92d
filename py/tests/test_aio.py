"""certless.aio.Credential: asyncio, any event loop, cancellation."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo

import certless
import certless.aio
from conftest import ARM, GRAPH, SHAREPOINT, Emulator


def test_async_happy_path(emu: Emulator) -> None:
    async def main() -> None:
        async with certless.aio.Credential.from_env(emu.env()) as credential:
            token = await credential.get_token(GRAPH)
            assert type(token) is AccessToken
            assert await credential.get_token(GRAPH) == token
            info = await credential.get_token_info(GRAPH)
            assert type(info) is AccessTokenInfo and info.token == token.token and info.token_type == "Bearer"
            await credential.close()

    asyncio.run(main())
    assert (emu.counters()["imds"], emu.counters()["entra_token"]) == (1, 1)


def test_the_loop_keeps_running_while_a_token_is_fetched(emu: Emulator) -> None:
    emu.fault(endpoint="entra_token", delay_ms=1000, remaining=1)
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def main() -> None:
        credential = certless.aio.Credential.from_env(emu.env())
        stop = asyncio.Event()
        tick_task = asyncio.create_task(ticker(stop))
        await asyncio.sleep(0)
        before = ticks
        await credential.get_token(GRAPH)
        after = ticks
        stop.set()
        await tick_task
        # The ticker only runs when get_token yields to the loop instead of blocking it.
        assert after > before + 1

    asyncio.run(main())


def test_event_loop_switching(emu: Emulator) -> None:
    credential = certless.aio.Credential.from_env(emu.env())
    first = asyncio.run(credential.get_token(GRAPH))
    # The first loop is closed; a cache miss on a new loop must be answered on the new loop.
    second = asyncio.run(credential.get_token(SHAREPOINT))
    loop = asyncio.new_event_loop()
    try:
        third = loop.run_until_complete(credential.get_token(ARM))
        assert loop.run_until_complete(credential.get_token(GRAPH)) == first
    finally:
        loop.close()
    in_thread: list = []
    t = threading.Thread(target=lambda: in_thread.append(asyncio.run(credential.get_token_info("https://vault.azure.net/.default"))))
    t.start()
    t.join()
    assert len({first.token, second.token, third.token, in_thread[0].token}) == 4
    assert emu.counters()["entra_token"] == 4


def test_64_tasks_on_a_cold_credential_make_one_request_per_leg(emu: Emulator) -> None:
    emu.fault(endpoint="entra_token", delay_ms=300, remaining=64)

    async def main() -> list:
        credential = certless.aio.Credential.from_env(emu.env())
        return await asyncio.gather(*(credential.get_token(GRAPH) for _ in range(64)))

    tokens = asyncio.run(main())
    assert len({t.token for t in tokens}) == 1
    counters = emu.counters()
    assert (counters["imds"], counters["entra_token"]) == (1, 1), counters


def test_cancelling_the_awaiting_task(emu: Emulator) -> None:
    emu.fault(endpoint="entra_token", delay_ms=2000, remaining=1)

    async def main() -> AccessToken:
        credential = certless.aio.Credential.from_env(emu.env())
        task = asyncio.create_task(credential.get_token(GRAPH))
        while not emu.counters()["entra_token"]:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The credential is still usable afterwards.
        return await credential.get_token(GRAPH)

    token = asyncio.run(main())
    assert token.token


def test_async_errors(emu: Emulator) -> None:
    env = emu.env()
    env["AZURE_CLIENT_ID"] = str(uuid.uuid4())

    async def main() -> None:
        credential = certless.aio.Credential.from_env(env)
        with pytest.raises(certless.TokenExchangeError) as caught:
            await credential.get_token(GRAPH)
        assert caught.value.code == 302 and caught.value.aadsts_codes
        with pytest.raises(certless.ConfigurationError):
            await credential.get_token("https://graph.microsoft.com/User.Read")

    asyncio.run(main())


def test_no_running_loop_is_a_clear_error(emu: Emulator) -> None:
    credential = certless.aio.Credential.from_env(emu.env())
    coroutine = credential.get_token(GRAPH)
    with pytest.raises(RuntimeError):
        coroutine.send(None)
    coroutine.close()
