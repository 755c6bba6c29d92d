"""certless.explain_refusal: a SharePoint refusal of a token certless got from the emulator, explained."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import certless
from conftest import SHAREPOINT, Emulator

SITE = "contoso.sharepoint.com/sites/crm"


def test_a_sites_selected_403_is_explained_without_the_token(emu: Emulator) -> None:
    credential = certless.Credential(
        tenant_id=emu.tenant_id,
        client_id=emu.client_id,
        managed_identity_client_id=emu.mi_client_id,
        authority_host=emu.url,
        environment=emu.env("imds"),
    )
    token = credential.get_token(SHAREPOINT).token
    url = emu.info["sharepoint_site_url"] + "/_api/web/lists/getbytitle('Orders')/items"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        opener.open(request)
        raise AssertionError("SharePoint took a token with no grant on the site")
    except urllib.error.HTTPError as refused:
        status, header, body = refused.code, refused.headers.get("WWW-Authenticate"), refused.read().decode()
    assert status == 403 and json.loads(body)["error"]["code"].startswith("-2147024891")

    e = certless.explain_refusal(url, status, header, body, token)
    assert isinstance(e, certless.CertlessError)
    assert (e.code, e.leg, e.status) == (700, "resource", 403)
    assert f"no grant on site {SITE}" in e.reason
    assert "POST https://graph.microsoft.com/v1.0/sites/{site-id}/permissions" in (e.remedy or "")
    assert token not in str(e) and token not in repr(e)
