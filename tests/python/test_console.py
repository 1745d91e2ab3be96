"""The web console (issue 15) in a real browser: headless Chromium from the system's packages
(/usr/bin/chromium) driven by Playwright for Python, against the release binary the conftest starts.

Every page is opened as a principal of the default world (the one-click `?as=` sign-in, which goes
through the emulator's token service), checked for what it must show, screenshotted under
target/console-screenshots/, and run through axe-core (tests/js/node_modules/axe-core, installed by
`npm ci` in tests/js) for serious or critical violations. Skipped only when /usr/bin/chromium is absent
(scripts/test installs it with apt-get when it runs as root)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import FABRIKAM_PROD, NORTHWIND_MAIN, REPO_ROOT, TAILSPIN_PROD

CHROMIUM = "/usr/bin/chromium"
AXE = REPO_ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = REPO_ROOT / "target" / "console-screenshots"

ALICE = "alice@contosomsp.onmicrosoft.com"
BOB = "bob@contosomsp.onmicrosoft.com"
FABRIKAM_ADMIN = "admin@fabrikam.onmicrosoft.com"
NORTHWIND_ADMIN = "admin@northwind.onmicrosoft.com"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent: install the 'chromium' package "
                                       "(scripts/test does so with apt-get when run as root)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--no-proxy-server"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def new_page(browser, emulator):
    """Pages in fresh contexts (each its own cookies, so its own principal) at 1280×800."""
    contexts = []

    def make(color_scheme: str = "light"):
        # the emulator's CA is not in Chromium's store; bypass_csp lets the test inject axe-core
        ctx = browser.new_context(ignore_https_errors=True, bypass_csp=True, base_url=emulator.url,
                                  viewport={"width": 1280, "height": 800}, color_scheme=color_scheme)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for c in contexts:
        c.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def axe_violations(page) -> list[dict]:
    assert AXE.is_file(), f"{AXE} is missing: run `npm ci` in tests/js (axe-core is in its package.json)"
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def section(page, heading: str):
    """The card whose h2 is `heading`."""
    return page.locator("section.card", has=page.get_by_role("heading", name=heading, level=2))


def test_my_customers_as_alice_lists_fabrikam_northwind_with_rg_managed_only_and_tailspin(new_page, emulator):
    page = new_page()
    page.goto(f"/console/customers?as={quote(ALICE)}")
    assert "Acting as" in page.locator("#who").inner_text() and ALICE in page.locator("#who").inner_text()
    for name in ("Fabrikam", "Northwind Traders", "Tailspin Toys"):
        assert section(page, name).count() == 1, name
    northwind = section(page, "Northwind Traders").inner_text()
    assert "rg-managed" in northwind and "rg-private" not in northwind, northwind
    fabrikam = section(page, "Fabrikam").inner_text()
    assert "fabrikam-prod" in fabrikam and "fabrikam-dev" not in fabrikam
    assert "MSP Operators" in fabrikam and "Contributor" in fabrikam
    # the Azure CLI command is beside the listing
    assert "az managedservices assignment list" in page.content()
    # alice's reads went through the pipeline as alice: the journal has them
    entries = emulator.admin("GET", "/console/activity.json?console=all&caller=alice").json()["entries"]
    assert any(e["path"] == "/subscriptions" and e["status"] == 200 and e["console"] for e in entries)
    shot(page, "my-customers-alice")


def test_bob_activates_his_eligible_contributor_on_tailspin_prod_and_a_write_then_succeeds(new_page, emulator):
    emulator.reset()
    page = new_page()
    page.goto(f"/console/customers?as={quote(BOB)}")
    tailspin = section(page, "Tailspin Toys")
    form = tailspin.get_by_role("form", name="Activate Contributor")
    assert form.count() == 1
    # before activation a write is refused (Reader only)
    url = f"/subscriptions/{TAILSPIN_PROD}/resourcegroups/rg-before-jit?api-version=2021-04-01"
    body = quote('{"location": "westeurope"}')
    page.goto(f"/console/explain?method=PUT&url={quote(url)}&body={body}")
    page.get_by_role("button", name="Send as the signed-in principal").click()
    assert "403" in page.locator("#answer").inner_text()

    page.goto("/console/customers")
    form = section(page, "Tailspin Toys").get_by_role("form", name="Activate Contributor")
    form.get_by_label("Duration").fill("PT2H")
    form.get_by_label("Justification").fill("Deploy release 42")
    form.get_by_role("button", name="Activate Contributor").click()
    notice = page.locator(".notice.ok")
    assert "Activated Contributor" in notice.inner_text(), page.locator("main").inner_text()[:2000]
    shot(page, "activate-bob")
    page.get_by_role("link", name="Try a write now").click()
    page.get_by_role("button", name="Send as the signed-in principal").click()
    answer = page.locator("#answer").inner_text()
    assert re.search(r"\b20[01]\b", answer), page.locator("main").inner_text()[:2000]
    shot(page, "write-after-activation-bob")


def test_admin_fabrikam_removes_the_delegation_and_alices_next_request_fails_logged_and_explained(new_page, emulator):
    emulator.reset()
    alice = new_page()
    alice.goto(f"/console/customers?as={quote(ALICE)}")  # signed in (a token) before the removal
    assert section(alice, "Fabrikam").count() == 1

    admin = new_page()
    admin.goto(f"/console/providers?as={quote(FABRIKAM_ADMIN)}")
    contoso = section(admin, "Contoso MSP")
    assert contoso.count() == 1
    assert "Contoso MSP - Fabrikam" in contoso.inner_text() or "Fabrikam" in contoso.inner_text()
    shot(admin, "service-providers-fabrikam")
    contoso.locator(f"button[aria-label^='Remove delegation'][aria-label$=' on /subscriptions/{FABRIKAM_PROD}']").click()
    assert "removed" in admin.locator(".notice.ok").inner_text()

    # alice's next request, with the token she already holds
    url = f"/subscriptions/{FABRIKAM_PROD}/resourcegroups?api-version=2021-04-01"
    alice.goto(f"/console/explain?method=GET&url={quote(url)}")
    alice.get_by_role("button", name="Send as the signed-in principal").click()
    answer = alice.locator("#answer").inner_text()
    assert "401" in answer and "InvalidAuthenticationTokenTenant" in answer, answer

    # the activity log shows it with alice's home tenant, and explains it
    admin.goto(f"/console/activity?status=401&subscription={FABRIKAM_PROD}")
    row = admin.locator("#activity-rows tr", has_text="InvalidAuthenticationTokenTenant").first
    text = row.inner_text()
    assert ALICE in text and "Contoso MSP" in text, text
    shot(admin, "activity-log-401")
    row.get_by_role("link", name=re.compile("^Explain")).click()
    decision = admin.locator("#decision").locator("xpath=..").inner_text()
    assert "denied" in decision and "InvalidAuthenticationTokenTenant" in decision, decision
    shot(admin, "explain-401")


def test_a_refused_write_from_an_sdk_client_appears_live_and_its_explanation_names_the_lock_or_deny_assignment(
        new_page, emulator):
    emulator.reset()
    page = new_page()
    page.goto(f"/console/activity?as={quote(NORTHWIND_ADMIN)}&status=refused")
    page.wait_for_function("document.getElementById('activity-rows') !== null")
    token = emulator.admin("POST", "/_emulator/token", json={"principal": NORTHWIND_ADMIN}).json()["accessToken"]
    vm = (f"/subscriptions/{NORTHWIND_MAIN}/resourceGroups/rg-managed/providers/Microsoft.Compute/"
          f"virtualMachines/vm-app-01?api-version=2024-07-01")
    sent = time.monotonic()
    r = emulator.arm("DELETE", vm, token)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ScopeLocked"), r.text
    row = page.locator("#activity-rows tr", has_text="ScopeLocked").first
    row.wait_for(state="visible", timeout=10_000)  # the page polls every 250 ms, no reload
    print(f"refused write shown in the live log {time.monotonic() - sent:.2f} s after the client's answer")
    assert NORTHWIND_ADMIN in row.inner_text() and "Northwind Traders" in row.inner_text()
    shot(page, "activity-log-live")
    row.get_by_role("link", name=re.compile("^Explain")).click()
    main = page.locator("main").inner_text()
    assert "do-not-delete" in main and "ScopeLocked" in main, main
    assert page.get_by_role("link", name=re.compile("lock do-not-delete")).count() >= 1
    shot(page, "explain-lock")

    # a deny assignment: alice writes into the managed application's group
    alice = emulator.admin("POST", "/_emulator/token", json={"principal": ALICE}).json()["accessToken"]
    rg = f"/subscriptions/{TAILSPIN_PROD}/resourceGroups/mrg-tailspin-app?api-version=2021-04-01"
    r = emulator.arm("PUT", rg, alice, json={"location": "westeurope", "tags": {"x": "y"}})
    assert r.status_code == 403, r.text
    page.goto("/console/activity?status=refused&caller=alice")
    row = page.locator("#activity-rows tr", has_text="mrg-tailspin-app").first
    row.get_by_role("link", name=re.compile("^Explain")).click()
    main = page.locator("main").inner_text()
    assert "denyAssignment" in main and "DenyAssignmentAuthorizationFailed" in main, main


PAGES = [
    ("sign-in", "/console/", None),
    ("directory", "/console/directory", ALICE),
    ("my-customers", "/console/customers", ALICE),
    ("service-providers", "/console/providers", FABRIKAM_ADMIN),
    ("resources", "/console/resources", ALICE),
    ("activity-log", "/console/activity", ALICE),
    ("explain", f"/console/explain?method=DELETE&url={quote(f'/subscriptions/{NORTHWIND_MAIN}/resourceGroups/rg-managed')}"
                f"&principal={quote(NORTHWIND_ADMIN)}", ALICE),
    ("clock", "/console/clock", ALICE),
]


@pytest.mark.parametrize("name,path,who", PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_has_no_serious_accessibility_violation(new_page, name, path, who, scheme):
    page = new_page(scheme)
    if who:
        sep = "&" if "?" in path else "?"
        path = f"{path}{sep}as={quote(who)}"
    r = page.goto(path)
    assert r.status == 200, (path, r.status)
    assert page.locator("h1").count() == 1
    bad = serious(axe_violations(page))
    assert not bad, f"{name} ({scheme}): {bad}"
    if scheme == "light" or name in ("my-customers", "resources"):
        page.reload()  # without the injected axe-core
        shot(page, name if scheme == "light" else f"{name}-dark")


def test_resources_tree_marks_locks_and_deny_assignments(new_page):
    page = new_page()
    page.goto(f"/console/resources?as={quote(ALICE)}")
    tree = page.locator("ul.tree").inner_text()
    assert "mrg-tailspin-app" in tree and "vm-appliance" in tree
    assert "deny assignment" in tree  # on mrg-tailspin-app
    assert "ReadOnly lock 'freeze'" in tree and "CanNotDelete lock 'do-not-delete'" in tree
    assert "rg-private" not in tree and "fabrikam-dev" not in tree
    page.get_by_role("link", name="ReadOnly lock 'freeze'").click()
    assert '"level": "ReadOnly"' in page.locator("pre").inner_text()


def test_keyboard_reaches_the_skip_link_and_sign_in_works_with_a_password(new_page):
    page = new_page()
    page.goto("/console/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.get_by_label("Principal").select_option("30000000-0000-0000-0000-000000001112")
    page.get_by_label("Password or client secret").fill("wrong")
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert "invalid_grant" in page.locator(".notice.error").inner_text()
    page.get_by_label("Principal").select_option("30000000-0000-0000-0000-000000001112")
    page.get_by_label("Password or client secret").fill("Bob-Pa55!")
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert BOB in page.locator("#who").inner_text()
    assert page.url.endswith("/console/customers")


def test_the_clock_advances_and_the_world_resets_from_the_console(new_page, emulator):
    page = new_page()
    page.goto(f"/console/clock?as={quote(ALICE)}")
    page.get_by_label("Advance by (ISO 8601 duration)").fill("PT2H")
    page.get_by_role("button", name="Advance").click()
    assert "The clock now reads" in page.locator(".notice.ok").inner_text()
    assert emulator.admin("GET", "/_emulator/clock").json()["offsetSeconds"] >= 7200
    page.get_by_role("button", name="Reset the world").click()
    assert "The world was reset" in page.locator(".notice.ok").inner_text()
    assert abs(emulator.admin("GET", "/_emulator/clock").json()["offsetSeconds"]) < 60


def test_a_sandbox_serves_the_same_console_for_its_own_world(new_page, emulator):
    created = emulator.admin("POST", "/_emulator/sandboxes", json={"ttl": "PT10M"})
    assert created.status_code in (200, 201), created.text
    sandbox = created.json()
    try:
        page = new_page()
        page.goto(f"{sandbox['url']}/console/providers?as={quote(FABRIKAM_ADMIN)}")
        contoso = section(page, "Contoso MSP")
        contoso.locator(f"button[aria-label^='Remove delegation'][aria-label$=' on /subscriptions/{FABRIKAM_PROD}']").click()
        assert "removed" in page.locator(".notice.ok").inner_text()
        page.goto(f"{sandbox['url']}/console/customers?as={quote(ALICE)}")
        assert section(page, "Fabrikam").count() == 0  # gone in the sandbox …
        main = new_page()
        main.goto(f"/console/customers?as={quote(ALICE)}")
        assert section(main, "Fabrikam").count() == 1  # … and untouched in the main world
    finally:
        emulator.admin("DELETE", f"/_emulator/sandboxes/{sandbox['id']}")
