"""Install check: the installed certless package gets a token from the emulator.

scripts/package-python.sh --check runs it from a fresh environment (no cargo, no rustc, not the
repository's sources) with the emulator's client environment: AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_AUTHORITY_HOST, CERTLESS_MANAGED_IDENTITY_CLIENT_ID, ... and CERTLESS_TEST_EMULATOR_URL.
It asks the emulator whether the token is one it issued, and prints its length, never the token.
"""

import json
import os
import sys
import urllib.request

import certless

SCOPE = "https://graph.microsoft.com/.default"


def main() -> int:
    credential = certless.Credential.from_env()
    token = credential.get_token(SCOPE).token
    request = urllib.request.Request(
        os.environ["CERTLESS_TEST_EMULATOR_URL"] + "/_emulator/verify",
        data=json.dumps({"token": token}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        verdict = json.load(response)
    where = os.path.dirname(certless.__file__)
    if not verdict.get("valid"):
        print(f"FAIL: the emulator does not recognise the token (certless from {where})")
        return 1
    print(
        f"ok: certless {certless.__version__} from {where} on Python {sys.version.split()[0]} "
        f"({sys.platform}) got a token the emulator issued ({len(token)} characters)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
