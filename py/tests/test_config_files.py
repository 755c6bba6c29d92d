"""Credential.from_config reads appsettings.json as .NET writes and reads it (byte order marks,
comments, trailing commas), and refuses a path that is not a regular file, by name."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict

import pytest

import certless
from conftest import SHAREPOINT, Emulator


def identity_template(emu: Emulator) -> str:
    """The shape of `dotnet new webapi --auth SingleOrg`'s appsettings.json, filled in for the
    emulator, with the trailing commas people leave and CRLF line ends."""
    return (
        "{\n"
        "  /*\n"
        "The following identity settings need to be configured\n"
        "before the project can be successfully executed.\n"
        "For more info see https://aka.ms/dotnet-template-ms-identity-platform\n"
        "*/\n"
        '  "AzureAd": {\n'
        f'    "Instance": "{emu.url}/",\n'
        '    "Domain": "contoso.onmicrosoft.com",\n'
        f'    "TenantId": "{emu.tenant_id}",\n'
        f'    "ClientId": "{emu.client_id}",\n'
        '    "ClientCredentials": [\n'
        f'      {{ "SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": "{emu.mi_client_id}" }},\n'
        "    ],\n"
        '//    "ClientSecret": "Client secret from app-registration. Check user secrets/azure portal.",\n'
        '    "CallbackPath": "/signin-oidc",\n'
        "  },\n"
        '  "AllowedHosts": "*"\n'
        "}\n"
    ).replace("\n", "\r\n")


ENCODINGS: Dict[str, bytes] = {
    # Visual Studio's default, Notepad's "UTF-16 LE" and "UTF-16 BE", and UTF-32 with its mark.
    "utf-8-sig": b"",
    "utf-16-le": b"\xff\xfe",
    "utf-16-be": b"\xfe\xff",
    "utf-32-le": b"\xff\xfe\x00\x00",
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_the_identity_template_is_read_in_every_encoding_dotnet_reads(
    emu: Emulator, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "appsettings.json"
    path.write_bytes(ENCODINGS[encoding] + identity_template(emu).encode(encoding))
    credential = certless.Credential.from_config(path, environment={"AZURE_POD_IDENTITY_AUTHORITY_HOST": emu.url})
    assert credential.client_id == emu.client_id
    credential.get_token(SHAREPOINT)
    assert emu.counters()["entra_token"] == 1


def test_a_broken_file_is_placed(tmp_path: Path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_bytes(b"\xef\xbb\xbf{\r\n  \"AzureAd\": {} /* never closed\r\n}\r\n")
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential.from_config(path)
    assert caught.value.code == 101
    assert "line 2, column 17" in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
def test_a_path_that_is_no_regular_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, what in [
        (fifo, "is a FIFO (named pipe)"),
        (Path("/dev/zero"), "is a character device"),
        (tmp_path, "is a directory"),
    ]:
        with pytest.raises(certless.ConfigurationError) as caught:
            certless.Credential.from_config(path)
        assert caught.value.code == 107
        assert f"{path} {what}, not a regular file" in str(caught.value)
