"""Install check: the installed certless package gets a token from the emulator.

scripts/package/package-python.sh --check runs it from a fresh environment (no cargo, no rustc, not the
repository's sources) with the emulator's client environment: AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_AUTHORITY_HOST, CERTLESS_MANAGED_IDENTITY_CLIENT_ID, ... and CERTLESS_TEST_EMULATOR_URL.
The token must be an app token for that tenant and client, and the emulator must recognise it as
one it issued. It prints the token's length, never the token.
"""

import base64
import json
import os
import sys
import urllib.request

import certless

SCOPE = "https://graph.microsoft.com/.default"


def main() -> int:
    where = os.path.dirname(certless.__file__)
    token = certless.Credential.from_env().get_token(SCOPE).token

    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    expected = {
        "tid": os.environ["AZURE_TENANT_ID"],
        "appid": os.environ["AZURE_CLIENT_ID"],
        "aud": "https://graph.microsoft.com",
    }
    for name, value in expected.items():
        if claims.get(name) != value:
            print(f"FAIL: the token's {name} claim is {claims.get(name)!r}, not {value!r}")
            return 1

    request = urllib.request.Request(
        os.environ["CERTLESS_TEST_EMULATOR_URL"] + "/_emulator/verify",
        data=json.dumps({"token": token}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if not json.load(response).get("valid"):
            print(f"FAIL: the emulator does not recognise the token (certless from {where})")
            return 1
    print(
        f"ok: certless {certless.__version__} from {where} on Python {sys.version.split()[0]} "
        f"({sys.platform}) got an app token for the tenant ({len(token)} characters; "
        "the emulator issued it)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
