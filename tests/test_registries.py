"""The image catalogue read from real registries (Debian's docker-registry on two loopback
ports, one private over TLS with a login), selection among their images, pulls as each
registry's policy allows, and images of untrusted registries pulled only by a digest a person
trusted once.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest
from docker.errors import ImageNotFound

from runtimes import naming
from runtimes.engine import Engine
from runtimes.errors import UsageError
from runtimes.images.catalogue import NO_RUST, engine_catalogue, registry_catalogue
from runtimes.images.obtaining import obtain_image
from runtimes.images.pulling import PullFailed
from runtimes.images.references import parse_image_reference
from runtimes.images.registries import ALWAYS, NEVER, Credentials, Registry
from runtimes.images.selection import select
from runtimes.images.trust import ApprovalNeeded, TrustPolicy, image_approval_code
from runtimes.toolchains import NEWEST_CHANNEL
from tests.conftest import registry_toolchain
from tests.registries import Registries, push, small_image
from tests.support import AARCH64, build, run_binary, run_xcargo

pytestmark = pytest.mark.engine

RISCV = "riscv64gc-unknown-linux-gnu"
TAG = f"{RISCV}-1.98"
LABELS = {
    naming.LABEL_KIND: naming.KIND_TOOLCHAIN,
    naming.LABEL_TARGETS: RISCV,
    naming.LABEL_RUSTC: "1.98.1",
}


@pytest.fixture(scope="module")
def small_images(docker_toolchains: Engine, registries: Registries) -> dict[str, str]:
    """A 1 MB toolchain-like image in the public registry, a 3 MB one in the private one, a
    cross-rs image of the target (no rustc) in the public one; their digests by reference.
    """
    engine, digests = docker_toolchains, {}
    for host, size, login in (
        (registries.public, 1_000_000, None),
        (registries.private, 3_000_000, registries.login),
    ):
        small_image(engine, "xcargo-test/small:1", size, LABELS)
        reference = f"{host}/xcargo/toolchain:{TAG}"
        digests[reference] = push(engine, "xcargo-test/small:1", reference, login)
    small_image(engine, "xcargo-test/small:1", 2_000_000, {})
    cross_rs = f"{registries.public}/cross-rs/{RISCV}:main"
    digests[cross_rs] = push(engine, "xcargo-test/small:1", cross_rs)
    engine.client.images.remove("xcargo-test/small:1")
    return digests


def both(registries: Registries, **public: object) -> TrustPolicy:
    return TrustPolicy(
        (
            Registry(registries.public, **public),  # type: ignore[arg-type]
            Registry(registries.private, credentials=registries.login),
        )
    )


def test_the_catalogue_reads_each_registry_without_pulling(
    toolchain_engine: Engine, registries: Registries, small_images: dict[str, str]
) -> None:
    warnings: list[str] = []
    found = registry_catalogue(
        both(registries), [registries.public, registries.private], [RISCV], warn=warnings.append
    )
    by_reference = {image.reference: image for image in found}
    assert warnings == []
    assert set(by_reference) == set(small_images)
    public = by_reference[f"{registries.public}/xcargo/toolchain:{TAG}"]
    private = by_reference[f"{registries.private}/xcargo/toolchain:{TAG}"]
    assert (public.targets, public.rustc, public.registry) == (
        (RISCV,),
        "1.98.1",
        registries.public,
    )
    assert 1_000_000 < public.size < 1_200_000 and 3_000_000 < private.size < 3_200_000
    assert public.digest == small_images[public.reference] and public.created[:2] == "20"
    assert not public.present and not public.note
    cross_rs = by_reference[f"{registries.public}/cross-rs/{RISCV}:main"]
    assert (cross_rs.targets, cross_rs.rustc, cross_rs.note) == ((RISCV,), "", NO_RUST)
    # Nothing was pulled to read them.
    assert not any(
        image.reference in small_images
        for image in engine_catalogue(toolchain_engine, both(registries))
    )


def test_selection_takes_the_smallest_when_none_is_on_the_engine(
    registries: Registries, small_images: dict[str, str]
) -> None:
    order = [registries.private, registries.public]
    found = registry_catalogue(both(registries), order, [RISCV], warn=print)
    chosen = select(found, RISCV, "1.98", order)
    assert chosen is not None
    assert chosen.image.reference == f"{registries.public}/xcargo/toolchain:{TAG}"
    assert chosen.reason.startswith(f"in {registries.public}, pulled; first of 2 images")
    # The cross-rs image has no rustc: it is never chosen by itself; another toolchain: none.
    assert select(found, RISCV, "1.85", order) is None


def test_a_private_registry_without_its_login_is_skipped_with_the_reason(
    registries: Registries, small_images: dict[str, str]
) -> None:
    warnings: list[str] = []
    wrong = Credentials(registries.login.username, "not-the-password")
    for login in (None, wrong):
        policy = TrustPolicy((Registry(registries.private, credentials=login),))
        assert registry_catalogue(policy, [registries.private], [RISCV], warn=warnings.append) == []
    assert warnings == [
        f"registry {registries.private} needs credentials: skipped; an admin sets them on the "
        "registry's page of the admin (trusted registries)",
        f"registry {registries.private} refused the credentials: skipped; an admin sets them on "
        "the registry's page of the admin (trusted registries)",
    ]
    assert "not-the-password" not in repr(policy) + repr(wrong)


def test_untrusted_and_unanswering_registries_are_not_used(registries: Registries) -> None:
    warnings: list[str] = []
    policy = TrustPolicy((Registry("127.0.0.1:5999"),))
    found = registry_catalogue(
        policy, [registries.public, "127.0.0.1:5999"], [RISCV], warn=warnings.append
    )
    assert found == []
    assert warnings[0] == (
        f"registry {registries.public} ([container] image_registry) is not trusted: not asked"
    )
    assert warnings[1].startswith("registry 127.0.0.1:5999 did not answer as expected: ")


def test_allowed_images_limit_what_a_registry_offers(
    toolchain_engine: Engine, registries: Registries, small_images: dict[str, str]
) -> None:
    policy = both(registries, allowed_images=("cross-rs/*",))
    found = registry_catalogue(policy, [registries.public], [RISCV], warn=print)
    assert [image.reference for image in found] == [f"{registries.public}/cross-rs/{RISCV}:main"]
    with pytest.raises(
        UsageError, match=r"is not among the images allowed from 127\.0\.0\.1:5101 \(cross-rs/\*\)"
    ):
        obtain(toolchain_engine, f"{registries.public}/xcargo/toolchain:{TAG}", policy)


def forget(engine: Engine, reference: str) -> None:
    """Remove the image pulled as `reference` whole: Podman keeps an image pulled by digest
    under that digest once its tag is removed.
    """
    with contextlib.suppress(ImageNotFound):
        engine.client.images.remove(engine.client.images.get(reference).id, force=True)


def obtain(
    engine: Engine,
    written: str,
    policy: TrustPolicy,
    approvals: frozenset[str] = frozenset(),
    lines: list[str] | None = None,
):
    return obtain_image(
        engine,
        parse_image_reference(written),
        trust=policy,
        approvals=approvals,
        approve_how="pass --approve-{kind} {code}",
        on_line=(lines if lines is not None else []).append,
    )


def test_pulls_follow_the_registrys_policy_and_pin_the_digest(
    toolchain_engine: Engine, registries: Registries, small_images: dict[str, str]
) -> None:
    reference = f"{registries.private}/xcargo/toolchain:{TAG}"
    never = TrustPolicy(
        (Registry(registries.private, pull_policy=NEVER, credentials=registries.login),)
    )
    with pytest.raises(PullFailed, match=r"the pull policy of 127\.0\.0\.1:5102 is never"):
        obtain(toolchain_engine, reference, never)
    lines: list[str] = []
    try:
        obtained = obtain(toolchain_engine, reference, both(registries), lines=lines)
        assert obtained.digest == f"{registries.private}/xcargo/toolchain@{small_images[reference]}"
        assert lines[0] == f"xcargo: pulling {reference} ({registries.private}: if-not-present)"
        # On the engine now: if-not-present does not pull again; always does.
        lines.clear()
        assert (
            obtain(toolchain_engine, reference, both(registries), lines=lines).image.id
            == obtained.image.id
        )
        assert lines == []
        always = TrustPolicy(
            (Registry(registries.private, pull_policy=ALWAYS, credentials=registries.login),)
        )
        obtain(toolchain_engine, reference, always, lines=lines)
        assert lines[0] == f"xcargo: pulling {reference} ({registries.private}: always)"
        assert not any(registries.login.password in line for line in lines)
    finally:
        forget(toolchain_engine, reference)


def test_an_untrusted_registrys_image_is_pulled_only_by_the_digest_a_person_trusted(
    toolchain_engine: Engine, registries: Registries, small_images: dict[str, str]
) -> None:
    reference = f"{registries.public}/xcargo/toolchain:{TAG}"
    digest = small_images[reference]
    nobody = TrustPolicy(())
    with pytest.raises(ApprovalNeeded) as caught:
        obtain(toolchain_engine, reference, nobody)
    needed = caught.value
    assert (needed.what, needed.approval) == ("image", image_approval_code(digest))
    assert needed.text == f"{registries.public}/xcargo/toolchain@{digest}"
    assert needed.message == (
        f"{reference} needs a person's approval before it is pulled:\n"
        f"  {reference}:line 1: {reference} comes from {registries.public}, which is not a "
        "trusted registry"
    )
    assert needed.hint == (
        "read it; to approve exactly this image (its digest), once, "
        f"pass --approve-image {needed.approval}"
    )
    with pytest.raises(ApprovalNeeded):
        obtain(toolchain_engine, reference, nobody, frozenset({"0123456789ab"}))
    lines: list[str] = []
    try:
        obtained = obtain(toolchain_engine, reference, nobody, frozenset({needed.approval}), lines)
        assert obtained.digest == needed.text
        assert f"pulling {needed.text}, which a person trusted once" in lines[0]
        # Tagged as named: the next build finds it on the engine and asks nobody.
        assert toolchain_engine.client.images.get(reference).id == obtained.image.id
        assert obtain(toolchain_engine, reference, nobody).image.id == obtained.image.id
    finally:
        forget(toolchain_engine, reference)


@pytest.fixture
def without_own_toolchain(docker_toolchains: Engine) -> Iterator[Engine]:
    """The newest aarch64 toolchain image without its own name while the test runs (kept
    under an untrusted name, which the catalogue does not offer), as on a worker that never
    made it; any registry name it got is removed afterwards.
    """
    engine, own = docker_toolchains, naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
    image = engine.client.images.get(own)
    image.tag(KEEP.rsplit(":", 1)[0], "1")
    engine.client.images.remove(own)
    try:
        yield engine
    finally:
        engine.client.images.get(KEEP).tag(*own.rsplit(":", 1))
        for name in engine.client.images.get(own).tags:
            if name != own:
                engine.client.images.remove(name)


KEEP = "127.0.0.1:5999/keep/toolchain:1"


@pytest.mark.slow
def test_a_worker_without_the_toolchain_image_pulls_it_from_the_team_registry(
    without_own_toolchain, registries, pushed_toolchain, copy_fixture, tmp_path
):
    engine = without_own_toolchain
    project = copy_fixture(
        "hello-tiny",
        engine,
        xcargo_toml=f'[container]\nimage_registry = ["{registries.public}"]\n',
    )
    lines: list[str] = []
    result = build(
        engine,
        project,
        AARCH64,
        tmp_path,
        lines=lines,
        release=True,
        bootstrap_missing=True,
        trust=TrustPolicy((Registry(registries.public),)),
    )
    assert result.succeeded, lines[-30:]
    pulled = registry_toolchain(registries.public)
    assert (result.image, result.image_source) == (pulled, "catalogue")
    assert result.image_reason.startswith(
        f"the catalogue: in {registries.public}, pulled; the only image for {AARCH64} "
        f"with rustc {NEWEST_CHANNEL}, "
    )
    assert result.image_digest == f"{registries.public}/xcargo/toolchain@{pushed_toolchain}"
    assert f"xcargo: pulling {pulled} ({registries.public}: if-not-present)" in lines
    assert not any("making it" in line for line in lines)
    [artifact] = result.artifacts
    assert "hello" in run_binary(AARCH64, artifact.path).lower()


@pytest.mark.slow
def test_the_cli_pulls_an_untrusted_image_only_with_the_approval_typed(
    docker_toolchains, registries, pushed_toolchain, copy_fixture, tmp_path
):
    engine = docker_toolchains
    project = copy_fixture("hello-tiny", engine)
    named = f"{registries.public}/team/rust:1"
    command = (engine, project.root, "build", "--target", AARCH64, "--container-image", named)
    try:
        refused = run_xcargo(*command)
        code = image_approval_code(pushed_toolchain)
        assert refused.returncode == 2, refused.stderr
        assert f"{named} needs a person's approval before it is pulled" in refused.stderr
        assert f"--approve-image {code}" in refused.stderr
        built = run_xcargo(*command, "--approve-image", code)
        assert built.returncode == 0, built.stderr[-3000:]
        assert f"pulling {registries.public}/team/rust@{pushed_toolchain}" in built.stderr
    finally:
        engine.client.images.remove(named)


def test_container_pull_pulls_the_catalogues_choice_with_progress(
    toolchain_engine, registries, small_images, tmp_path
):
    reference = f"{registries.public}/xcargo/toolchain:{TAG}"
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "p"\nversion = "0.1.0"\n')
    (tmp_path / "xcargo.toml").write_text(
        f'[container]\nimage_registry = ["{registries.public}"]\n'
    )

    def xcargo(*arguments: str) -> subprocess.CompletedProcess[str]:
        return run_xcargo(
            toolchain_engine, tmp_path, *arguments, XCARGO_TRUSTED_REGISTRIES=registries.public
        )

    try:
        pulled = xcargo("container", "pull", "--target", RISCV, "--toolchain", "1.98")
        assert pulled.returncode == 0, pulled.stderr
        digest = small_images[reference]
        assert pulled.stdout == f"{reference}  {registries.public}/xcargo/toolchain@{digest}\n"
        assert (
            f"pulling {reference}: in {registries.public}, pulled; the only image" in pulled.stderr
        )
        listed = xcargo("container", "images")
        assert listed.returncode == 0, listed.stderr
        registry_part = listed.stdout.split(f"in the registries ({registries.public}):")[1]
        row = next(line for line in registry_part.splitlines() if reference in line)
        assert row.split()[1:3] == [RISCV, "1.98.1"] and row.split()[-1] == "yes"
        missing = xcargo("container", "pull", "--target", RISCV, "--toolchain", "1.85")
        assert missing.returncode == 2
        assert f"no image for {RISCV} with rustc 1.85 in the registries" in missing.stderr
    finally:
        forget(toolchain_engine, reference)
