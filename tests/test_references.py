"""Image references: Docker's grammar and canonical forms, and what is refused."""

from __future__ import annotations

import pytest

from runtimes.errors import UsageError
from runtimes.images.references import (
    MAX_NAME_LENGTH,
    ImageReference,
    parse_image_reference,
    validate_registry_host,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4

# --- Canonical and familiar forms


def test_bare_name_is_an_official_docker_hub_image_at_latest() -> None:
    assert parse_image_reference("debian") == ImageReference(
        "docker.io", "library/debian", "latest", None
    )


def test_bare_name_canonical_form() -> None:
    assert parse_image_reference("debian").canonical == "docker.io/library/debian:latest"


def test_bare_name_familiar_form() -> None:
    assert parse_image_reference("debian").familiar == "debian:latest"


def test_str_is_the_canonical_form() -> None:
    assert str(parse_image_reference("debian:bookworm")) == "docker.io/library/debian:bookworm"


def test_tag_is_kept() -> None:
    assert parse_image_reference("debian:bookworm").tag == "bookworm"


def test_docker_hub_user_image_gets_no_library_prefix() -> None:
    reference = parse_image_reference("rustembedded/cross:latest")
    assert reference.repository == "rustembedded/cross"
    assert reference.canonical == "docker.io/rustembedded/cross:latest"


def test_explicit_docker_io_single_name_gets_library_prefix() -> None:
    assert parse_image_reference("docker.io/ubuntu").repository == "library/ubuntu"


def test_fully_qualified_docker_hub_name_familiarises() -> None:
    assert parse_image_reference("docker.io/library/rust:1.75").familiar == "rust:1.75"


def test_legacy_index_docker_io_becomes_docker_io() -> None:
    assert parse_image_reference("index.docker.io/library/debian").registry == "docker.io"


def test_nested_library_path_keeps_library_in_familiar_form() -> None:
    reference = parse_image_reference("docker.io/library/foo/bar")
    assert reference.familiar == "library/foo/bar:latest"


def test_other_registry_is_taken_from_first_component_with_a_dot() -> None:
    reference = parse_image_reference("ghcr.io/cross-rs/aarch64-unknown-linux-gnu:main")
    assert reference.registry == "ghcr.io"
    assert reference.repository == "cross-rs/aarch64-unknown-linux-gnu"
    assert reference.tag == "main"


def test_other_registry_familiar_form_is_the_full_name() -> None:
    reference = parse_image_reference("ghcr.io/owner/image:1.0")
    assert reference.familiar == "ghcr.io/owner/image:1.0"


def test_other_registry_single_component_gets_no_library_prefix() -> None:
    assert parse_image_reference("quay.io/image").repository == "image"


def test_first_component_without_dot_or_port_is_a_docker_hub_namespace() -> None:
    reference = parse_image_reference("myorg/image")
    assert (reference.registry, reference.repository) == ("docker.io", "myorg/image")


def test_localhost_is_a_registry() -> None:
    reference = parse_image_reference("localhost/image")
    assert (reference.registry, reference.repository) == ("localhost", "image")


def test_registry_with_port() -> None:
    reference = parse_image_reference("localhost:5000/team/image:v2")
    assert reference.registry == "localhost:5000"
    assert reference.tag == "v2"


def test_single_label_host_with_port_is_a_registry() -> None:
    assert parse_image_reference("registry:5000/image").registry == "registry:5000"


def test_ipv4_registry_with_port() -> None:
    reference = parse_image_reference("127.0.0.1:5000/x/y:1")
    assert reference.canonical == "127.0.0.1:5000/x/y:1"


def test_ipv6_registry_in_brackets() -> None:
    assert parse_image_reference("[::1]:5000/image").registry == "[::1]:5000"


def test_bare_localhost_with_tag_is_a_docker_hub_image_as_in_docker() -> None:
    reference = parse_image_reference("localhost:5000")
    assert (reference.repository, reference.tag) == ("library/localhost", "5000")


def test_digest_only_reference_has_no_default_tag() -> None:
    reference = parse_image_reference(f"debian@{DIGEST}")
    assert reference.tag is None
    assert reference.digest == DIGEST
    assert reference.canonical == f"docker.io/library/debian@{DIGEST}"


def test_tag_and_digest_are_both_kept() -> None:
    reference = parse_image_reference(f"ghcr.io/a/b:1.0@{DIGEST}")
    assert reference.canonical == f"ghcr.io/a/b:1.0@{DIGEST}"
    assert reference.familiar == f"ghcr.io/a/b:1.0@{DIGEST}"


def test_name_property_has_no_tag() -> None:
    assert parse_image_reference("debian:12").name == "docker.io/library/debian"


@pytest.mark.parametrize(
    "text",
    ["a.b_c__d-e---f", "a/b/c/d/e", "image_1", "x.y.z"],
)
def test_path_separators_from_the_grammar_are_accepted(text: str) -> None:
    parse_image_reference(text)


@pytest.mark.parametrize("tag", ["1.75", "v1_2-rc.3", "_private", "A" * 128, "UPPER"])
def test_valid_tags(tag: str) -> None:
    assert parse_image_reference(f"debian:{tag}").tag == tag


def test_uppercase_registry_host_is_accepted_like_docker() -> None:
    assert parse_image_reference("GHCR.io/owner/image").registry == "GHCR.io"


def test_reference_is_frozen() -> None:
    reference = parse_image_reference("debian")
    with pytest.raises(AttributeError):
        reference.tag = "evil"  # type: ignore[misc]


def test_canonical_form_parses_back_to_the_same_reference() -> None:
    reference = parse_image_reference("ghcr.io/owner/image:1.0")
    assert parse_image_reference(reference.canonical) == reference


def test_familiar_form_parses_back_to_the_same_reference() -> None:
    reference = parse_image_reference("docker.io/library/debian:bookworm")
    assert parse_image_reference(reference.familiar) == reference


# --- Refusals


def refusal(text: str) -> UsageError:
    with pytest.raises(UsageError) as caught:
        parse_image_reference(text)
    return caught.value


def test_empty_reference_is_refused() -> None:
    assert "empty" in refusal("").message


@pytest.mark.parametrize("text", [" ", " debian", "debian ", "deb ian", "\tdebian", "debian\n"])
def test_whitespace_is_refused(text: str) -> None:
    assert "cannot appear" in refusal(text).message


@pytest.mark.parametrize("char", [";", "$", "`", "|", "&", "\n", "(", ")", "<", ">", "'", '"'])
def test_shell_metacharacters_are_refused(char: str) -> None:
    assert repr(char) in refusal(f"debian:latest{char}id").message


def test_command_substitution_is_refused() -> None:
    refusal("debian:$(curl evil.example)")


def test_uppercase_repository_is_refused() -> None:
    assert "lowercase" in refusal("ghcr.io/Owner/image").message


def test_uppercase_bare_name_is_refused() -> None:
    assert "lowercase" in refusal("Debian").message


@pytest.mark.parametrize(
    "text", ["ghcr.io/../etc/passwd", "ghcr.io/owner/..", "a/./b", "a/.hidden", "a/b./c"]
)
def test_dot_path_tricks_are_refused(text: str) -> None:
    assert "path component" in refusal(text).message


def test_leading_dot_dot_is_refused_as_a_registry_host() -> None:
    assert "'..' is not a valid registry host" in refusal("../image").message


@pytest.mark.parametrize("text", ["ghcr.io//image", "/image", "image/", "ghcr.io/owner/", "//"])
def test_empty_path_components_are_refused(text: str) -> None:
    assert "empty path component" in refusal(text).message


@pytest.mark.parametrize(
    "text", ["https://ghcr.io/owner/image", "http://localhost:5000/x", "docker://debian"]
)
def test_urls_with_a_scheme_are_refused(text: str) -> None:
    assert "scheme" in refusal(text).message


@pytest.mark.parametrize(
    "text",
    [
        "localhost:0/image",
        "localhost:65536/image",
        "localhost:99999/image",
        "localhost:05000/image",
        "localhost:/image",
        "localhost:abc/image",
        "localhost:5000:5001/image",
    ],
)
def test_bad_ports_are_refused(text: str) -> None:
    refusal(text)


def test_highest_port_is_accepted() -> None:
    assert parse_image_reference("localhost:65535/image").registry == "localhost:65535"


@pytest.mark.parametrize(
    "text",
    [
        "debian@",
        "debian@sha256:",
        "debian@sha256:abc",
        "debian@sha256:" + "A" * 64,
        "debian@sha256:" + "g" * 64,
        "debian@sha512:" + "a" * 128,
        "debian@" + "a" * 64,
        f"debian@{DIGEST}@{DIGEST}",
    ],
)
def test_bad_digests_are_refused(text: str) -> None:
    assert "sha256" in refusal(text).message


@pytest.mark.parametrize("tag", ["", ".hidden", "-dash", "a" * 129])
def test_bad_tags_are_refused(tag: str) -> None:
    refusal(f"debian:{tag}")


@pytest.mark.parametrize("host", ["-bad.example.com", "bad-.example.com", "a..b.com", "a_b.com"])
def test_bad_registry_hosts_are_refused(host: str) -> None:
    refusal(f"{host}/image")


def test_sixty_four_hex_digits_alone_are_an_image_id_not_a_reference() -> None:
    assert "image ID" in refusal("a" * 64).message


def test_name_longer_than_docker_allows_is_refused() -> None:
    assert "longer" in refusal("ghcr.io/" + "a" * MAX_NAME_LENGTH).message


def test_name_at_docker_limit_is_accepted() -> None:
    name = "ghcr.io/" + "a" * (MAX_NAME_LENGTH - len("ghcr.io/"))
    assert parse_image_reference(name).canonical == f"{name}:latest"


def test_huge_input_is_refused_without_echoing_all_of_it() -> None:
    message = refusal("a" * 100_000).message
    assert "longer" in message
    assert len(message) < 300


def test_refusal_quotes_the_input_with_repr() -> None:
    message = refusal("debian\nrm -rf /").message
    assert "'debian\\nrm -rf /'" in message
    assert "\n" not in message


def test_refusal_hint_shows_an_example() -> None:
    assert "debian:bookworm" in (refusal("Bad Image").hint or "")


def test_non_ascii_is_refused() -> None:
    refusal("débian")


# --- Registry host matching for trusted-registry checks


@pytest.mark.parametrize(
    ("reference", "host"),
    [
        ("debian", "docker.io"),
        ("ghcr.io/owner/image", "ghcr.io"),
        ("ghcr.io/owner/image", "GHCR.IO"),
        ("GHCR.io/owner/image", "ghcr.io"),
        ("localhost:5000/image", "localhost:5000"),
        ("127.0.0.1:5000/image", "127.0.0.1:5000"),
        ("[::1]:5000/image", "[::1]:5000"),
    ],
)
def test_registry_host_matches_the_same_host(reference: str, host: str) -> None:
    assert parse_image_reference(reference).registry_host_matches(host)


@pytest.mark.parametrize(
    ("reference", "host"),
    [
        ("docker.io.evil.com/library/debian", "docker.io"),
        ("evil-docker.io/image", "docker.io"),
        ("debian", "docker.io.evil.com"),
        ("debian", "io"),
        ("ghcr.io/owner/image", "ghcr.io:443"),
        ("localhost:5000/image", "localhost"),
        ("127.0.0.1:5001/image", "127.0.0.1:5000"),
        ("127.0.0.1:5000/image", "127.0.0.1:05000"),
        ("ghcr.io/owner/image", "ghcr.io/owner"),
        ("ghcr.io/owner/image", "ghcr.io."),
        ("ghcr.io/owner/image", "*.io"),
        ("ghcr.io/owner/image", ""),
        ("ghcr.io/owner/image", " ghcr.io"),
    ],
)
def test_registry_host_does_not_match_anything_else(reference: str, host: str) -> None:
    assert not parse_image_reference(reference).registry_host_matches(host)


def test_index_docker_io_matches_docker_io_after_canonicalisation() -> None:
    assert parse_image_reference("index.docker.io/library/debian").registry_host_matches(
        "docker.io"
    )


# --- Registry hosts on their own (for image_registry lists)


@pytest.mark.parametrize("host", ["ghcr.io", "docker.io", "localhost:5000", "10.0.0.1:443"])
def test_valid_registry_hosts_are_returned_unchanged(host: str) -> None:
    assert validate_registry_host(host) == host


@pytest.mark.parametrize(
    "host",
    ["", "https://ghcr.io", "ghcr.io/owner", "ghcr.io:0", "ghcr.io:70000", "a b", "ghcr.io;x"],
)
def test_invalid_registry_hosts_are_refused(host: str) -> None:
    with pytest.raises(UsageError, match="invalid registry host"):
        validate_registry_host(host)


def test_huge_registry_host_is_refused() -> None:
    with pytest.raises(UsageError):
        validate_registry_host("a" * 10_000 + ":" + "9" * 10_000)
