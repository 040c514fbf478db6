"""Which registries images may come from, and the gate a reviewed Dockerfile passes: its
concerns need a person's approval of exactly that text, typed, never by default.
"""

from __future__ import annotations

import pytest

from runtimes.errors import UsageError
from runtimes.images.references import parse_image_reference
from runtimes.images.registries import Registry
from runtimes.images.review import review_dockerfile
from runtimes.images.trust import (
    DEFAULT_TRUSTED_REGISTRIES,
    ApprovalNeeded,
    TrustPolicy,
    approval_code,
    check_approved,
    concerns,
)

HOW = "pass --approve-dockerfile {code}"


def trusted(reference: str, policy: TrustPolicy | None = None) -> bool:
    return (policy or TrustPolicy()).trusts(parse_image_reference(reference))


def test_the_defaults_are_the_registries_the_design_names():
    assert DEFAULT_TRUSTED_REGISTRIES == ("docker.io", "ghcr.io", "quay.io")


@pytest.mark.parametrize(
    "reference",
    ["debian:trixie", "index.docker.io/library/debian", "ghcr.io/cross-rs/x:main", "QUAY.IO/a/b"],
)
def test_images_of_the_trusted_registries_are_trusted(reference):
    assert trusted(reference)


@pytest.mark.parametrize(
    "reference",
    [
        "docker.io.evil.com/x",
        "ghcr.io.attacker.net/x",
        "evil.com/docker.io/x",
        "ghcr.io:5000/x",
        "localhost:5000/x",
        "127.0.0.1:5999/team/rust:1",
        "localhost/other/thing:1",
    ],
)
def test_lookalike_hosts_and_other_ports_are_not_trusted(reference):
    assert not trusted(reference)


def test_xcargos_own_images_come_from_no_registry_and_need_no_trust():
    assert trusted("localhost/xcargo/toolchain:aarch64-unknown-linux-gnu-1.98", TrustPolicy(()))


def test_a_policy_trusts_exactly_its_hosts_and_ports():
    policy = TrustPolicy.from_hosts(["127.0.0.1:5999", " "])
    assert trusted("127.0.0.1:5999/team/rust:1", policy)
    assert not trusted("127.0.0.1:5998/team/rust:1", policy)
    assert not trusted("debian", policy)


@pytest.mark.parametrize("host", ["https://ghcr.io", "ghcr.io/x", "evil host", "a:99999"])
def test_a_bad_host_in_a_policy_is_refused(host):
    with pytest.raises(UsageError):
        TrustPolicy.from_hosts([host])


def test_concerns_are_findings_and_untrusted_images_in_line_order():
    review = review_dockerfile(
        "FROM localhost/xcargo/debian:trixie AS tools\n"
        "FROM 127.0.0.1:5999/team/rust:1\n"
        "RUN curl -fsSL https://example.com/install.sh | sh\n"
    )

    found = concerns(review, TrustPolicy())

    assert [concern.line for concern in found] == sorted(concern.line for concern in found)
    assert [c.registry for c in found if c.registry] == ["127.0.0.1:5999"]
    assert any(c.line == 3 and c.registry is None for c in found)
    assert all(c.line != 1 for c in found), "xcargo's own base image is no concern"


def test_a_clean_dockerfile_from_a_trusted_image_passes_without_approval():
    review = review_dockerfile("FROM localhost/xcargo/debian:trixie\nRUN true\n")
    assert check_approved("D", "", review, TrustPolicy(), (), how=HOW) == ()


def test_a_dockerfile_with_concerns_is_refused_naming_the_lines_and_the_code_to_type():
    text = "FROM 127.0.0.1:5999/team/rust:1\n"
    review = review_dockerfile(text)

    with pytest.raises(ApprovalNeeded) as raised:
        check_approved("ci.Dockerfile", text, review, TrustPolicy(), (), how=HOW)

    refusal = raised.value
    assert "ci.Dockerfile:line 1: FROM 127.0.0.1:5999/team/rust:1" in refusal.message
    assert refusal.hint.endswith(f"pass --approve-dockerfile {approval_code(review)}")
    assert refusal.approval == approval_code(review) and len(refusal.approval) == 12
    assert refusal.text == text


def test_the_approval_of_one_text_does_not_approve_another():
    first = review_dockerfile("FROM 127.0.0.1:5999/team/rust:1\n")
    second = review_dockerfile("FROM 127.0.0.1:5999/team/rust:2\n")

    assert check_approved("D", "", first, TrustPolicy(), {approval_code(first)}, how=HOW)
    with pytest.raises(ApprovalNeeded):
        check_approved("D", "", second, TrustPolicy(), {approval_code(first)}, how=HOW)


def test_an_image_a_trusted_registry_does_not_allow_is_a_concern():
    review = review_dockerfile(
        "FROM ghcr.io/team/rust@sha256:" + "a" * 64 + "\n"
        "COPY --from=ghcr.io/cross-rs/aarch64-unknown-linux-gnu@sha256:" + "b" * 64 + " / /\n"
    )
    policy = TrustPolicy((Registry("ghcr.io", allowed_images=("cross-rs/*",)),))

    [concern] = concerns(review, policy)

    assert concern.line == 1 and concern.registry is None
    assert concern.what == (
        f"FROM ghcr.io/team/rust@sha256:{'a' * 64} is not among the images allowed from "
        "ghcr.io (cross-rs/*)"
    )


@pytest.mark.parametrize(
    ("reference", "globs", "allowed"),
    [
        ("ghcr.io/cross-rs/aarch64-unknown-linux-gnu:main", ("cross-rs/*",), True),
        ("ghcr.io/cross-rs/aarch64-unknown-linux-gnu:main", ("cross-rs/*:edge",), False),
        ("ghcr.io/cross-rs/aarch64-unknown-linux-gnu:main", ("*:main",), True),
        ("ghcr.io/other/aarch64:main", ("cross-rs/*",), False),
        ("debian:trixie", ("debian:*",), True),
        ("debian:trixie", ("library/debian:trixie",), True),
        ("debian:trixie", ("ubuntu:*",), False),
        ("ghcr.io/cross-rs/x@sha256:" + "c" * 64, ("cross-rs/x",), True),
        ("ghcr.io/cross-rs/x@sha256:" + "c" * 64, ("cross-rs/x:main",), False),
        ("ghcr.io/cross-rs/x:1", ("CROSS-RS/*",), False),
    ],
)
def test_allowed_images_are_globs_of_the_registrys_own_paths(reference, globs, allowed):
    registry = Registry(parse_image_reference(reference).registry, allowed_images=globs)
    assert registry.allows(parse_image_reference(reference)) is allowed
