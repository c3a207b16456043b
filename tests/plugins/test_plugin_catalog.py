"""The plugin catalog: the built-in plugins, third-party packages found by their entry points,
plugins that fail, the hook reference, and ``switchboard plugins list``.

Third-party plugins here are real installed distributions on ``sys.path``: the example package
in ``example_plugin/`` installed by pip, and hand-made ``.dist-info`` folders for broken ones.
Nothing in Switchboard's code names them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from uuid import UUID, uuid4

import pytest
from click.testing import CliRunner
from dependency_injector import providers

from switchboard import __version__
from switchboard.core.errors import InvalidInput
from switchboard.core.flags.handlers import SetFlags, set_flags
from switchboard.entrypoints.cli import main
from switchboard.plugins import hookspecs
from switchboard.plugins.manager import PluginCatalog, PluginInfo, build_plugin_catalog
from switchboard.ports.providers import Capability, ProviderDescription, SmsMessage
from tests.e2e.helpers import SignedUp, sign_up

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLE_SOURCE = HERE / "example_plugin"
EXAMPLE_MODULE = "switchboard_example_plugin"
PLUGIN_GUIDE = ROOT / "docs" / "plugins.md"

FAKE_PROVIDERS = {
    "fake_email": Capability.EMAIL,
    "fake_sms": Capability.SMS,
    "fake_payments": Capability.PAYMENTS,
    "fake_voice": Capability.VOICE,
    "fake_avatar_video": Capability.AVATAR_VIDEO,
}
AUTH_TOKEN = "ex_live_0123456789abcdef"
GOOD_CONFIG = {"auth_token": AUTH_TOKEN, "sender": "+14155550100"}


@contextmanager
def on_sys_path(directory: Path, *modules: str) -> Iterator[None]:
    """Make what is installed in ``directory`` importable and discoverable, then forget it."""
    sys.path.insert(0, str(directory))
    importlib.invalidate_caches()  # importlib.metadata caches what each path holds
    try:
        yield
    finally:
        sys.path.remove(str(directory))
        for name in modules:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()


def plugin_named(catalog: PluginCatalog, name: str) -> PluginInfo:
    found = [plugin for plugin in catalog.plugins if plugin.name == name]
    assert len(found) == 1, [p.name for p in catalog.plugins]
    return found[0]


def assert_fake_plugin_loaded(catalog: PluginCatalog) -> None:
    fake = plugin_named(catalog, "fake")
    assert fake.error is None
    assert {spec.slug: spec.capability for spec in fake.providers} == FAKE_PROVIDERS
    for slug in FAKE_PROVIDERS:
        description = catalog.describe(slug)
        assert description is not None
        assert description.plugin == "fake"


# --- the built-in catalog ----------------------------------------------------------------------


def test_the_built_in_catalog_lists_its_plugins_and_their_providers_with_no_errors():
    catalog = build_plugin_catalog(load_entry_points=False)

    assert [(p.name, p.version, p.error) for p in catalog.plugins] == [
        (name, __version__, None)
        for name in (
            "fake",
            "stripe",
            "twilio",
            "sendgrid",
            "google",
            "github",
            "google_calendar",
            "outlook_calendar",
            "heygen",
            "vapi",
            "retell",
        )
    ]
    assert_fake_plugin_loaded(catalog)
    assert [(d.slug, d.capability, d.plugin) for d in catalog.all()] == [
        ("fake_avatar_video", Capability.AVATAR_VIDEO, "fake"),
        ("fake_email", Capability.EMAIL, "fake"),
        ("fake_payments", Capability.PAYMENTS, "fake"),
        ("fake_sms", Capability.SMS, "fake"),
        ("fake_voice", Capability.VOICE, "fake"),
        ("github", Capability.SIGN_IN, "github"),
        ("google", Capability.SIGN_IN, "google"),
        ("google_calendar", Capability.CALENDAR, "google_calendar"),
        ("heygen", Capability.AVATAR_VIDEO, "heygen"),
        ("outlook_calendar", Capability.CALENDAR, "outlook_calendar"),
        ("retell", Capability.VOICE, "retell"),
        ("sendgrid", Capability.EMAIL, "sendgrid"),
        ("stripe", Capability.PAYMENTS, "stripe"),
        ("twilio", Capability.SMS, "twilio"),
        ("vapi", Capability.VOICE, "vapi"),
    ]


# --- plugins that fail -------------------------------------------------------------------------


def install_by_hand(site: Path, distribution: str, entry_point: str, module: str, source: str) -> None:
    """What pip leaves behind for a one-module distribution: the module and its .dist-info."""
    info = site / f"{distribution.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[switchboard.plugins]\n{entry_point}\n")
    (site / f"{module}.py").write_text(source)
    importlib.invalidate_caches()


class PluginSite:
    """A directory on sys.path where a test installs one-module plugin distributions by hand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def install(self, name: str, source: str) -> None:
        """Distribution ``<name>-plugin``, entry point ``<name> = <name>_plugin_module:plugin``."""
        module = f"{name}_plugin_module"
        install_by_hand(self.root, f"{name}-plugin", f"{name} = {module}:plugin", module, source)
        self.modules.append(module)


@pytest.fixture
def plugin_site(tmp_path: Path) -> Iterator[PluginSite]:
    site = PluginSite(tmp_path)
    try:
        with on_sys_path(tmp_path):
            yield site
    finally:
        for module in site.modules:
            sys.modules.pop(module, None)


BROKEN_SOURCE = 'raise ImportError("the vendor SDK this plugin needs is not installed")\n'

PLUGIN_PREAMBLE = """
from pydantic import BaseModel, SecretStr

from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.ports.providers import Capability


class Config(BaseModel):
    api_key: SecretStr
"""

IMPOSTOR_SOURCE = (
    PLUGIN_PREAMBLE
    + """
class Impostor:
    @hookimpl
    def switchboard_providers(self):
        return [ProviderSpec("fake_email", Capability.EMAIL, "Impostor email", Config, lambda c: object())]


plugin = Impostor()
"""
)


@pytest.fixture
def broken_plugin(plugin_site: PluginSite) -> None:
    """An installed plugin whose module raises ImportError when it is imported."""
    plugin_site.install("broken", BROKEN_SOURCE)


@pytest.fixture
def impostor_plugin(plugin_site: PluginSite) -> None:
    """An installed plugin that offers a provider under a slug the fake plugin already has."""
    plugin_site.install("impostor", IMPOSTOR_SOURCE)


@pytest.mark.usefixtures("broken_plugin")
def test_a_plugin_that_fails_to_import_is_reported_and_the_others_still_load():
    catalog = build_plugin_catalog()

    broken = plugin_named(catalog, "broken")
    assert broken.version == "0.1"
    assert broken.providers == []
    assert broken.error is not None
    assert "ImportError" in broken.error
    assert "the vendor SDK this plugin needs is not installed" in broken.error
    assert_fake_plugin_loaded(catalog)


@pytest.mark.usefixtures("impostor_plugin")
def test_a_plugin_offering_a_slug_already_taken_is_reported_and_the_original_provider_stays():
    catalog = build_plugin_catalog()

    impostor = plugin_named(catalog, "impostor")
    assert impostor.providers == []
    assert impostor.error is not None
    assert "fake_email" in impostor.error
    assert "already taken" in impostor.error
    assert catalog.describe("fake_email") == ProviderDescription(
        "fake_email", Capability.EMAIL, "Fake email", "fake"
    )
    assert catalog.specs["fake_email"].name == "Fake email"
    assert not catalog.manager.is_registered(catalog.manager.get_plugin("impostor"))
    assert_fake_plugin_loaded(catalog)


TWICE_SOURCE = (
    PLUGIN_PREAMBLE
    + """
class Twice:
    @hookimpl
    def switchboard_providers(self):
        return [
            ProviderSpec("twice_sms", Capability.SMS, "Twice, first", Config, lambda c: object()),
            ProviderSpec("twice_sms", Capability.SMS, "Twice, second", Config, lambda c: object()),
        ]


plugin = Twice()
"""
)


def test_a_plugin_offering_one_slug_twice_is_reported_rather_than_the_second_replacing_the_first(
    plugin_site,
):
    plugin_site.install("twice", TWICE_SOURCE)

    catalog = build_plugin_catalog()

    twice = plugin_named(catalog, "twice")
    assert twice.error is not None, f"accepted, and twice_sms is now {catalog.specs['twice_sms'].name!r}"
    assert "twice_sms" in twice.error
    assert "twice_sms" not in catalog.specs
    assert_fake_plugin_loaded(catalog)


SPECNAME_SOURCE = (
    PLUGIN_PREAMBLE
    + """
class Renamed:
    @hookimpl(specname="switchboard_providers")
    def offer_providers(self):
        return [ProviderSpec("renamed_sms", Capability.SMS, "Renamed SMS", Config, lambda c: object())]


plugin = Renamed()
"""
)


def test_a_plugin_implementing_the_hook_under_its_own_name_with_specname_offers_its_providers(plugin_site):
    plugin_site.install("renamed", SPECNAME_SOURCE)

    catalog = build_plugin_catalog()

    renamed = plugin_named(catalog, "renamed")
    assert renamed.error is None
    assert catalog.manager.get_plugin("renamed") is not None  # pluggy did register the hook
    assert [spec.slug for spec in renamed.providers] == ["renamed_sms"]
    assert catalog.describe("renamed_sms") == ProviderDescription(
        "renamed_sms", Capability.SMS, "Renamed SMS", "renamed"
    )


TEXT_CAPABILITY_SOURCE = (
    PLUGIN_PREAMBLE
    + """
class Textual:
    @hookimpl
    def switchboard_providers(self):
        return [ProviderSpec("textual_sms", "sms", "Textual SMS", Config, lambda c: object())]


plugin = Textual()
"""
)


def test_every_provider_in_the_catalog_has_a_capability_even_when_a_plugin_names_it_as_text(plugin_site):
    plugin_site.install("textual", TEXT_CAPABILITY_SOURCE)

    catalog = build_plugin_catalog()

    # A capability left as text passes for one in comparisons, then breaks the first request
    # that reads its .value: it must be converted, or the plugin refused, when the catalog is built.
    assert {d.slug: type(d.capability) for d in catalog.all()} == dict.fromkeys(catalog.specs, Capability)


NESTED_SECRET_SOURCE = """
from pydantic import BaseModel, SecretStr

from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.ports.providers import Capability


class Credentials(BaseModel):
    api_key: SecretStr


class NestedConfig(BaseModel):
    credentials: Credentials


class Nested:
    @hookimpl
    def switchboard_providers(self):
        # The adapter is the configuration itself: what a real adapter would be built with.
        return [ProviderSpec("nested_email", Capability.EMAIL, "Nested email", NestedConfig, lambda c: c)]


plugin = Nested()
"""


def test_a_secret_inside_a_nested_config_model_reaches_the_adapter_whole_or_the_plugin_is_refused(
    plugin_site,
):
    plugin_site.install("nested", NESTED_SECRET_SOURCE)
    secret = "nested-secret-0123456789"

    catalog = build_plugin_catalog()

    nested = plugin_named(catalog, "nested")
    if nested.error is not None:  # refusing secrets below the top level is a fine answer too
        assert "nested_email" not in catalog.specs
        return
    stored = catalog.validate_config("nested_email", {"credentials": {"api_key": secret}}).values
    adapter = catalog.build("nested_email", stored)
    assert adapter.credentials.api_key.get_secret_value() == secret, f"stored as {stored}"


# --- the hook reference ------------------------------------------------------------------------


def _hooks() -> list[str]:
    """Every hookspec: the functions named ``switchboard_*`` and any marked as a spec."""
    return sorted(
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("switchboard_") or hasattr(function, "switchboard_spec")
    )


HOOKS = _hooks()


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if re.search(r"[.!?]$", s)]


def test_the_hookspecs_module_declares_at_least_one_hook():
    assert HOOKS, "no switchboard_* hook found in switchboard.plugins.hookspecs"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_a_hookspec_prefixed_switchboard(hook):
    assert hook.startswith("switchboard_")
    assert hasattr(getattr(hookspecs, hook), "switchboard_spec"), f"{hook} is not marked @hookspec"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_of_at_least_two_sentences(hook):
    docstring = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(sentences(docstring)) >= 2, f"{hook}: {docstring!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_plugin_guide(hook):
    headings = [line for line in PLUGIN_GUIDE.read_text().splitlines() if line.startswith("#")]
    assert any(hook in heading for heading in headings), f"docs/plugins.md has no heading for {hook}"


# --- switchboard plugins list ------------------------------------------------------------------


def test_plugins_list_shows_each_plugin_with_its_version_and_its_providers_with_their_capabilities():
    result = CliRunner().invoke(main, ["plugins", "list"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"fake {__version__}" in lines
    assert "  fake_email (email): Fake email" in lines
    assert "  fake_sms (sms): Fake SMS" in lines
    assert "  fake_payments (payments): Fake payments" in lines
    assert "FAILED" not in result.output


@pytest.mark.usefixtures("broken_plugin")
def test_plugins_list_shows_a_plugin_that_failed_with_its_error_and_still_exits_zero():
    result = CliRunner().invoke(main, ["plugins", "list"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    failed = lines.index("broken 0.1") + 1
    assert lines[failed].startswith("  FAILED: ImportError: the vendor SDK")
    assert f"fake {__version__}" in lines
    assert "  fake_sms (sms): Fake SMS" in lines


# --- a third-party package, installed with pip -------------------------------------------------


def _builds_wheels_offline() -> bool:
    """setuptools builds wheels by itself from 70.1 on; older ones need the ``wheel`` package."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """``pip install`` the example package into a directory of its own, and put it on sys.path.

    Built without isolation when this environment's setuptools can build a wheel offline; a
    venv that Python 3.11 made has setuptools 65, which cannot without ``wheel``, and then pip
    builds it in an isolated environment with setuptools from the package index.
    """
    assert importlib.util.find_spec(EXAMPLE_MODULE) is None, "the example plugin is already importable"
    work = tmp_path_factory.mktemp("example-plugin")
    source, site = work / "source", work / "site"
    # A copy, so the build's by-products (build/, *.egg-info) never land in the work tree.
    shutil.copytree(
        EXAMPLE_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    isolation = ["--no-build-isolation"] if _builds_wheels_offline() else []
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-input", *isolation]
    result = subprocess.run(
        [*command, "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with on_sys_path(site, EXAMPLE_MODULE):
        build_plugin_catalog()  # loads every entry point, the example's among them
        module = sys.modules[EXAMPLE_MODULE]
        assert Path(str(module.__file__)).is_relative_to(site)
        yield module


def test_an_installed_package_is_found_through_its_entry_point_with_its_version_and_provider(example_plugin):
    catalog = build_plugin_catalog()

    example = plugin_named(catalog, "example")
    assert (example.version, example.error) == ("1.2.3", None)
    assert [(spec.slug, spec.capability) for spec in example.providers] == [("example_sms", Capability.SMS)]
    assert catalog.describe("example_sms") == ProviderDescription(
        "example_sms", Capability.SMS, "Example SMS", "example"
    )
    assert catalog.specs["example_sms"].secret_fields == {"auth_token"}
    assert catalog.manager.get_plugin("example") is example_plugin.plugin
    assert_fake_plugin_loaded(catalog)


def test_the_installed_plugin_accepts_a_good_configuration_and_keeps_its_secret_whole(example_plugin):
    validated = build_plugin_catalog().validate_config("example_sms", dict(GOOD_CONFIG))

    assert validated.values == GOOD_CONFIG
    assert validated.secret_fields == {"auth_token"}


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({}, {"config.auth_token", "config.sender"}),
        ({"auth_token": "short", "sender": "+14155550100"}, {"config.auth_token"}),
        ({"auth_token": AUTH_TOKEN, "sender": "not a number"}, {"config.sender"}),
        (GOOD_CONFIG | {"colour": "red"}, {"config.colour"}),
    ],
    ids=["missing fields", "short token", "sender not E.164", "unknown field"],
)
def test_the_installed_plugin_reports_a_bad_configuration_field_by_field(example_plugin, config, fields):
    with pytest.raises(InvalidInput) as raised:
        build_plugin_catalog().validate_config("example_sms", config)

    assert {error.field for error in raised.value.errors} == fields


async def test_each_configuration_gets_a_fresh_adapter_that_sends_with_its_own_settings(example_plugin):
    catalog = build_plugin_catalog()
    outbox = example_plugin.plugin.outbox
    first = catalog.build("example_sms", GOOD_CONFIG)
    second = catalog.build(
        "example_sms", {"auth_token": "ex_live_fedcba9876543210", "sender": "+442071838750"}
    )
    assert first is not second

    first_id = await first.send_sms(SmsMessage("+14155550123", "Your plumber is on the way"))
    second_id = await second.send_sms(SmsMessage("+447700900123", "Your quote is ready"))

    assert first_id != second_id
    assert all(isinstance(i, str) and i for i in (first_id, second_id))
    assert outbox.sent[-2:] == [
        ("+14155550100", SmsMessage("+14155550123", "Your plumber is on the way")),
        ("+442071838750", SmsMessage("+447700900123", "Your quote is ready")),
    ]


@pytest.fixture
def app_with_example_plugin(example_plugin, container) -> Iterator[None]:
    """The app's catalog is built once per container: swap in one that sees the example plugin.

    The provider registry is a Singleton that captured the catalog it was built with, so it is
    dropped before and after, and built again from whichever catalog is in force.
    """
    container.provider_registry.reset()
    container.plugins.override(providers.Object(build_plugin_catalog()))
    try:
        yield
    finally:
        container.plugins.reset_override()
        container.provider_registry.reset()


async def texting_tenant(client, container) -> SignedUp:
    """A new tenant with SMS turned on (free plans have it off), as a platform admin would."""
    owner = await sign_up(client)
    tenant_id = UUID(owner.tenant_id)
    await set_flags(
        SetFlags(tenant_id, {"sms": True}), uuid4(), container.units()(tenant_id), container.clock()
    )
    return owner


@pytest.mark.usefixtures("app_with_example_plugin")
async def test_a_tenant_connects_the_installed_provider_over_http_and_texts_through_it(
    client, container, example_plugin
):
    owner = await texting_tenant(client, container)

    response = await client.post(
        "/v1/integrations", json={"provider": "example_sms", "config": GOOD_CONFIG}, headers=owner.auth
    )

    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    assert (body["provider"], body["capability"], body["enabled"]) == ("example_sms", "sms", True)
    assert body["config"] == {"auth_token": "••••" + AUTH_TOKEN[-4:], "sender": "+14155550100"}
    assert AUTH_TOKEN not in str(await response.get_data(as_text=True))

    sms = await container.provider_registry().sms_for(UUID(owner.tenant_id))
    message = SmsMessage("+14155550123", "Your plumber arrives at 10:00")
    provider_id = await sms.send_sms(message)

    assert provider_id.startswith("example_sms_")
    assert example_plugin.plugin.outbox.sent[-1] == ("+14155550100", message)


@pytest.mark.usefixtures("app_with_example_plugin")
async def test_a_tenant_sending_a_bad_configuration_for_the_installed_provider_is_told_which_field(
    client, container, example_plugin
):
    owner = await texting_tenant(client, container)

    response = await client.post(
        "/v1/integrations",
        json={"provider": "example_sms", "config": {"auth_token": "short", "sender": "+14155550100"}},
        headers=owner.auth,
    )

    assert response.status_code == 400, await response.get_data()
    body = await response.get_json()
    assert [error["field"] for error in body["errors"]] == ["config.auth_token"]
    assert "short" not in str(body)
