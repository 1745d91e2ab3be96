"""Malformed requests: raw HTTP, since no SDK sends them, answered as ARM answers them."""

from conftest import FABRIKAM_DEV, assert_arm_error, unique_name


def test_malformed_json_body_is_400_invalid_request_content(emulator, creds):
    r = emulator.arm("PUT", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups/{unique_name('rg-bad')}"
                            "?api-version=2025-04-01",
                     token=creds.token("fabrikam-ci"), data=b'{"location": "westeurope",',
                     headers={"Content-Type": "application/json"})
    assert_arm_error(r, 400, "InvalidRequestContent")


def test_malformed_json_for_generic_resource_is_400_invalid_request_content(emulator, creds):
    r = emulator.arm("PUT", f"/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev/providers/"
                            "Microsoft.Network/virtualNetworks/vnet-bad?api-version=2023-09-01",
                     token=creds.token("fabrikam-ci"), data=b"{not json}",
                     headers={"Content-Type": "application/json"})
    assert_arm_error(r, 400, "InvalidRequestContent")


def test_missing_api_version_is_400_missing_api_version_parameter(emulator, creds):
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups", token=creds.token("fabrikam-ci"))
    assert_arm_error(r, 400, "MissingApiVersionParameter")


def test_missing_api_version_on_subscriptions_is_400(emulator, creds):
    r = emulator.arm("GET", "/subscriptions", token=creds.token("fabrikam-ci"))
    assert_arm_error(r, 400, "MissingApiVersionParameter")


def test_error_envelope_is_json(emulator, creds):
    r = emulator.arm("GET", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-nope?api-version=2025-04-01",
                     token=creds.token("fabrikam-ci"))
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    assert_arm_error(r, 404, "ResourceGroupNotFound")


def test_metadata_endpoints_describe_the_emulator_cloud(emulator):
    r = emulator.admin("GET", "/metadata/endpoints?api-version=2022-09-01")
    assert r.status_code == 200, r.text
    cloud = r.json()
    assert cloud["name"] != "AzureCloud"
    assert cloud["authentication"]["loginEndpoint"].rstrip("/") == emulator.url
    assert cloud["resourceManager"].rstrip("/") == emulator.url
    assert "suffixes" in cloud
    assert cloud["microsoftGraphResourceId"].rstrip("/") == emulator.url
