"""`use_when`: the expression that says when a target builds in a container, how a bad one is
refused (always with its column), and the placement it gives: container or native.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from runtimes.config import XcargoConfig
from runtimes.config.schema import ContainerConfig, TargetContainerConfig
from runtimes.errors import UsageError
from runtimes.host import host_triple
from runtimes.placement import (
    CONTAINER,
    NATIVE,
    NO_USE_WHEN,
    STRATEGIES,
    StrategyChoice,
    choose_placement,
)
from runtimes.targets import Triple
from runtimes.use_when import MAX_USE_WHEN_LENGTH, UseWhen
from tests.support import load_toml, toml_error

X86_64 = "x86_64-unknown-linux-gnu"
AARCH64 = "aarch64-unknown-linux-gnu"
MUSL = "x86_64-unknown-linux-musl"
WINDOWS = "x86_64-pc-windows-gnu"
MACOS = "aarch64-apple-darwin"
LINUX_HOST = Triple.parse(X86_64)


def holds(text: str, target: str, host: str = X86_64) -> bool:
    return UseWhen.parse(text).evaluate(target=Triple.parse(target), host=Triple.parse(host))


def refusal(text: str) -> UsageError:
    with pytest.raises(UsageError) as caught:
        UseWhen.parse(text)
    return caught.value


# --- Good expressions, and what they say


@pytest.mark.parametrize(
    ("target", "expected"),
    [(X86_64, False), (MUSL, False), (AARCH64, False), (WINDOWS, True), (MACOS, True)],
)
def test_the_designs_expression_compares_operating_systems(target: str, expected: bool) -> None:
    assert holds("target.os != host.os", target) is expected


@pytest.mark.parametrize(
    ("target", "host", "expected"),
    [(AARCH64, X86_64, True), (AARCH64, MACOS, False), (X86_64, X86_64, False)],
)
def test_and_needs_both(target: str, host: str, expected: bool) -> None:
    text = 'target.arch == "aarch64" and host.os == "linux"'
    assert holds(text, target, host) is expected


@pytest.mark.parametrize(("target", "expected"), [(X86_64, True), (MUSL, True), (WINDOWS, True)])
def test_in_looks_in_a_tuple(target: str, expected: bool) -> None:
    assert holds('target.env in ("gnu", "musl")', target) is expected


def test_in_looks_in_a_list_and_not_in_is_its_opposite() -> None:
    assert holds('target.env in ["musl"]', MUSL) is True
    assert holds('target.env not in ["musl"]', MUSL) is False


def test_a_list_may_hold_fields() -> None:
    assert holds('host.os in (target.os, "darwin")', AARCH64) is True


@pytest.mark.parametrize(("target", "expected"), [(X86_64, False), (AARCH64, True)])
def test_not_and_parentheses(target: str, expected: bool) -> None:
    assert holds("not (target.triple == host.triple)", target) is expected


def test_or_needs_either() -> None:
    assert holds('target.os == "windows" or target.arch == "aarch64"', AARCH64) is True
    assert holds('target.os == "windows" or target.arch == "aarch64"', X86_64) is False


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("false", False), ("True", True), ("False", False)]
)
def test_boolean_literals(text: str, expected: bool) -> None:
    assert holds(text, AARCH64) is expected


def test_every_field_is_a_part_of_the_triple() -> None:
    text = (
        'target.arch == "x86_64" and target.vendor == "pc" and target.os == "windows" '
        f'and target.env == "gnu" and target.triple == "{WINDOWS}"'
    )
    assert holds(text, WINDOWS) is True


def test_a_missing_part_is_the_empty_string() -> None:
    assert holds('target.vendor == "" and target.env == ""', "wasm32-wasip1") is True


def test_single_quotes_and_surrounding_space_are_fine() -> None:
    assert holds("  target.os == 'windows'\n", WINDOWS) is True


def test_an_expression_may_span_lines_inside_parentheses() -> None:
    assert holds("(target.os != host.os\n or target.arch != host.arch)", AARCH64) is True


def test_the_text_is_kept_and_two_parses_of_it_are_equal() -> None:
    assert UseWhen.parse("target.os != host.os").text == "target.os != host.os"
    assert UseWhen.parse("true") == UseWhen.parse("true")


# --- Malformed expressions: refused with the column and the text found there


def test_an_unbalanced_parenthesis_is_located() -> None:
    err = refusal('(target.os == "linux"')
    assert err.message == (
        "use_when: syntax error at column 1: '(' was never closed (at '(target.os == \"linux\"')"
    )


def test_a_stray_closing_parenthesis_is_located() -> None:
    assert refusal('target.os == "linux")').message.startswith(
        "use_when: syntax error at column 21: unmatched ')'"
    )


def test_a_single_equals_sign_is_called_what_it_is() -> None:
    err = refusal('target.os = "linux"')
    assert err.message == (
        "use_when: syntax error at column 11: '=' is not a comparison (use == or !=) "
        "(at '= \"linux\"')"
    )


def test_an_expression_that_stops_short_is_located_at_its_end() -> None:
    assert refusal("target.os ==").message == (
        "use_when: syntax error at column 13: invalid syntax (at the end of the expression)"
    )


def test_two_statements_are_a_syntax_error() -> None:
    assert "syntax error at column 17" in refusal('target.os == "x"; 1').message


def test_a_syntax_error_on_a_later_line_names_the_line() -> None:
    assert "at line 2, column 1" in refusal('target.os == "x"\n== host.os').message


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_expression_is_refused(text: str) -> None:
    err = refusal(text)
    assert err.message == "use_when: empty expression"
    assert err.hint is not None and "true" in err.hint


def test_an_expression_too_long_is_refused() -> None:
    text = "true or " * 62 + "true "
    assert len(text) > MAX_USE_WHEN_LENGTH
    assert refusal(text).message == (
        f"use_when: expression is too long ({len(text)} characters, at most 500)"
    )


def test_an_expression_of_the_longest_length_is_accepted() -> None:
    text = "true" + " " * (MAX_USE_WHEN_LENGTH - 4)
    assert UseWhen.parse(text).text == text


@pytest.mark.parametrize(("char", "column"), [("\x00", 6), ("\x1b", 6), ("\x7f", 6)])
def test_control_characters_are_refused_with_their_column(char: str, column: int) -> None:
    assert refusal(f"true {char}").message == (
        f"use_when: control character {char!r} at column {column}"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "a function call \"__import__('os')\" at column 1 is not allowed"),
        ('target.os.upper() == "X"', "a function call 'target.os.upper()' at column 1"),
        ('target.os[0] == "l"', "a subscript 'target.os[0]' at column 1 is not allowed"),
        ('target.os[:1] == "l"', "a subscript 'target.os[:1]' at column 1 is not allowed"),
        ('target.os + "x" == "y"', "arithmetic 'target.os + \"x\"' at column 1 is not allowed"),
        ("lambda: true", "a lambda 'lambda: true' at column 1 is not allowed"),
        ("(x := true)", "an assignment 'x := true' at column 2 is not allowed"),
        ('[x for x in "ab"] == "a"', "a comprehension '[x for x in \"ab\"]' at column 1"),
        ('f"{target.os}" == "x"', "an f-string 'f\"{target.os}\"' at column 1 is not allowed"),
        ('true if target.os == "x" else false', "a conditional expression"),
        ('{"a": "b"} == "x"', 'a dict \'{"a": "b"}\' at column 1 is not allowed'),
        ("-true", "operator '-' at column 1 is not allowed"),
        ('target.os < "m"', "operator '<' at column 11 is not allowed"),
        ('target.os is not "m"', "operator 'is not' at column 11 is not allowed"),
        ("target.os == 5", "'5' at column 14 is not allowed: values are quoted strings"),
        ("target.os == None", "'None' at column 14 is not allowed"),
        ('b"x" == "x"', "'b\"x\"' at column 1 is not allowed"),
    ],
)
def test_everything_but_comparisons_is_refused_at_its_column(text: str, message: str) -> None:
    assert refusal(text).message.startswith(f"use_when: {message}")


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("target.__class__", 1),
        ("target.os == host.__dict__ and true", 14),
    ],
)
def test_dunder_fields_are_unknown_fields(text: str, column: int) -> None:
    assert f"' at column {column}; the fields are" in refusal(text).message


def test_attributes_of_anything_but_target_and_host_are_refused() -> None:
    err = refusal('target.os.__class__ == "x"')
    assert err.message.startswith(
        "use_when: 'target.os.__class__' at column 1 is not allowed: only target and host have "
        "fields"
    )


def test_a_refusal_hints_at_the_grammar() -> None:
    hint = refusal("__import__('os')").hint
    assert hint is not None and "target.os != host.os" in hint


def test_columns_count_characters_not_bytes() -> None:
    assert "unknown name 'foo' at column 15" in refusal('"é" == "é" or foo').message


def test_columns_count_the_leading_space() -> None:
    assert "at column 3" in refusal("  targt.os == host.os").message


def test_braces_in_the_text_do_not_disturb_the_message() -> None:
    assert "unknown name 'x' at column 27" in refusal('target.os == "{where}" or x').message


def test_an_error_on_a_later_line_names_the_line_and_column() -> None:
    err = refusal('(target.os == "x"\n or bogus == "y")')
    assert "unknown name 'bogus' at line 2, column 5" in err.message


# --- Unknown fields and names, with a suggestion


def test_an_unknown_field_lists_the_fields() -> None:
    assert refusal('target.family == "unix"').message == (
        "use_when: unknown field 'target.family' at column 1; the fields are target.os, "
        "target.arch, target.env, target.vendor, target.triple and the same of host"
    )


def test_a_misspelt_field_gets_a_suggestion() -> None:
    assert "unknown field 'host.oss' at column 14 (did you mean host.os?)" in (
        refusal("target.os != host.oss").message
    )


def test_a_misspelt_name_gets_a_suggestion() -> None:
    assert refusal('targt.os == "linux"').message == (
        "use_when: unknown name 'targt' at column 1 (did you mean target?)"
    )


def test_a_bare_word_is_told_to_be_quoted() -> None:
    assert refusal("target.os == linux").message == (
        "use_when: unknown name 'linux' at column 14; the names are target, host, true, false, "
        'and strings are quoted: "linux"'
    )


def test_target_alone_is_not_a_value() -> None:
    assert refusal('target == "linux"').message.startswith(
        "use_when: 'target' at column 1 is not a value by itself; use one of its fields"
    )


def test_a_literal_has_no_fields() -> None:
    assert "'true' at column 1 has no fields" in refusal('true.os == "x"').message


# --- Results that are not true or false, found when the text is parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("target.os", "'target.os' at column 1 is a string, not true or false"),
        ('"linux"', "'\"linux\"' at column 1 is a string, not true or false"),
        ('("gnu", "musl")', '\'("gnu", "musl")\' at column 1 is a list, not true or false'),
    ],
)
def test_an_expression_must_be_true_or_false(text: str, message: str) -> None:
    assert refusal(text).message == f"use_when: {message}"


def test_a_bare_field_is_told_to_be_compared() -> None:
    assert refusal("target.os").hint == "compare it, e.g. target.os == ..."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not target.os", "'target.os' at column 5 is a string, but 'not' takes a condition"),
        ("target.os and true", "'target.os' at column 1 is a string, but 'and' combines"),
        ("true or host.arch", "'host.arch' at column 9 is a string, but 'or' combines"),
        ('(target.os == "a") == true', "'target.os == \"a\"' at column 2 is true or false"),
        ('target.os in "linux"', "'\"linux\"' at column 14 is not a list, but 'in' looks for"),
        ("target.os in (true,)", "'true' at column 15 is true or false, but a list holds strings"),
    ],
)
def test_operands_of_the_wrong_kind_are_located(text: str, message: str) -> None:
    assert refusal(text).message.startswith(f"use_when: {message}")


# --- The host's own target


@pytest.mark.parametrize(
    ("machine", "system", "expected"),
    [
        ("x86_64", "linux", "x86_64-unknown-linux-gnu"),
        ("aarch64", "linux", "aarch64-unknown-linux-gnu"),
        ("arm64", "darwin", "aarch64-apple-darwin"),
        ("x86_64", "darwin", "x86_64-apple-darwin"),
        ("AMD64", "win32", "x86_64-pc-windows-msvc"),
        ("armv7l", "linux", "armv7-unknown-linux-gnueabihf"),
    ],
)
def test_host_triple_from_machine_and_platform(machine: str, system: str, expected: str) -> None:
    assert str(host_triple(machine=machine, system=system)) == expected


def test_host_triple_of_this_machine_is_a_triple_rustc_knows() -> None:
    assert str(Triple.parse(str(host_triple()))) == str(host_triple())


def test_an_unknown_machine_is_refused() -> None:
    with pytest.raises(UsageError, match=r"cannot tell this machine's Rust target \(machine 'z80'"):
        host_triple(machine="z80", system="linux")


# --- Placement: container or native


def config(*, project: str | None = None, **per_target: str) -> XcargoConfig:
    """A configuration with the project's use_when and targets' own (triple=expression)."""
    container = ContainerConfig(use_when=None if project is None else UseWhen.parse(project))
    targets = {
        triple: TargetContainerConfig(use_when=UseWhen.parse(text))
        for triple, text in per_target.items()
    }
    return XcargoConfig(container=container, targets=targets)


def place(triple: str, xcargo: XcargoConfig, *, containers_only: bool = False) -> StrategyChoice:
    return choose_placement(triple, xcargo, host=LINUX_HOST, containers_only=containers_only)


def test_the_strategy_words_have_one_home() -> None:
    assert (CONTAINER, NATIVE) == ("container", "native")
    assert set(STRATEGIES) >= {CONTAINER, NATIVE}


def test_a_strategy_choice_refuses_an_unknown_word() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'docker'"):
        StrategyChoice("docker", "because")


def test_without_use_when_every_target_builds_in_a_container() -> None:
    choice = place(X86_64, XcargoConfig())
    assert choice == StrategyChoice(CONTAINER, "no use_when: every target builds in a container")
    assert choice.reason == NO_USE_WHEN


def test_a_true_use_when_builds_in_a_container_and_says_why() -> None:
    choice = place(WINDOWS, config(project="target.os != host.os"))
    assert choice == StrategyChoice(
        CONTAINER, f'xcargo.toml: [container] use_when "target.os != host.os" is true for {WINDOWS}'
    )


def test_a_false_use_when_builds_the_hosts_own_target_natively() -> None:
    choice = place(X86_64, config(project="target.os != host.os"))
    assert choice.strategy == NATIVE
    assert choice.reason == (
        f'xcargo.toml: [container] use_when "target.os != host.os" is false for {X86_64}, '
        "this machine's own target: built natively"
    )


def test_a_false_use_when_for_another_target_is_refused() -> None:
    with pytest.raises(UsageError) as caught:
        place(AARCH64, config(project="target.os != host.os"))
    assert caught.value.message == (
        f'xcargo.toml: [container] use_when "target.os != host.os" is false for {AARCH64}, '
        f"but a native build is only for this machine's own target, {X86_64}"
    )
    hint = caught.value.hint
    assert hint is not None and "change use_when" in hint and f"build for {X86_64}" in hint


def test_the_server_builds_in_a_container_even_when_use_when_is_false() -> None:
    for triple in (X86_64, AARCH64):
        choice = place(triple, config(project="false"), containers_only=True)
        assert choice.strategy == CONTAINER
        assert choice.reason == (
            f'xcargo.toml: [container] use_when "false" is false for {triple}, but the server '
            "builds every target in a container (native builds are the xcargo CLI's alone)"
        )


def test_a_targets_own_use_when_wins_over_the_projects() -> None:
    xcargo = config(project="false", **{AARCH64: "true"})
    choice = place(AARCH64, xcargo)
    assert choice == StrategyChoice(
        CONTAINER,
        f'xcargo.toml: [targets."{AARCH64}".container] use_when "true" is true for {AARCH64}',
    )
    assert place(X86_64, xcargo).strategy == NATIVE  # the project's, for the other targets


def test_a_targets_own_false_wins_over_a_projects_true() -> None:
    xcargo = config(project="true", **{X86_64: "false"})
    assert place(X86_64, xcargo).strategy == NATIVE
    assert place(AARCH64, xcargo).strategy == CONTAINER


def test_quotes_in_the_expression_are_written_as_xcargo_toml_spells_them() -> None:
    choice = place(AARCH64, config(project='target.arch == "aarch64"'))
    assert choice.reason.startswith(
        'xcargo.toml: [container] use_when "target.arch == \\"aarch64\\""'
    )


def test_a_long_expression_is_cut_in_the_reason() -> None:
    text = " or ".join(['target.os == "windows"'] * 10) + " or true"
    choice = place(AARCH64, config(project=text))
    assert len(choice.reason) < 150
    assert '..." is true' in choice.reason


# --- In xcargo.toml: located by file, line and key, and by the expression's column


def test_the_projects_use_when_is_read_from_the_file(tmp_path: Path) -> None:
    xcargo = load_toml(tmp_path, '[container]\nuse_when = "target.os != host.os"\n')
    assert xcargo.setting_for(AARCH64, "use_when") == (
        UseWhen.parse("target.os != host.os"),
        "xcargo.toml: [container] use_when",
    )


def test_a_targets_use_when_is_read_from_the_file(tmp_path: Path) -> None:
    xcargo = load_toml(tmp_path, f'[targets."{AARCH64}".container]\nuse_when = "true"\n')
    assert xcargo.setting_for(AARCH64, "use_when") == (
        UseWhen.parse("true"),
        f'xcargo.toml: [targets."{AARCH64}".container] use_when',
    )
    assert xcargo.setting_for(X86_64, "use_when") is None


def test_a_malformed_use_when_names_file_line_key_and_column(tmp_path: Path) -> None:
    err = toml_error(
        tmp_path,
        """\
        [container]
        runtime = "docker"
        use_when = "target.os != host.os and (targt.arch == 'x'"
        """,
    )
    assert (err.file, err.line, err.key) == ("xcargo.toml", 3, "container.use_when")
    assert err.message == (
        "xcargo.toml:3: container.use_when: syntax error at column 26: '(' was never closed "
        "(at \"(targt.arch == 'x'\")"
    )


def test_an_unknown_name_in_a_targets_use_when_is_located(tmp_path: Path) -> None:
    err = toml_error(
        tmp_path,
        f"""\
        [targets."{AARCH64}".container]

        use_when = "targt.os == host.os"
        """,
    )
    assert (err.line, err.key) == (3, f"targets.{AARCH64}.container.use_when")
    assert err.message.endswith("unknown name 'targt' at column 1 (did you mean target?)")
    assert err.hint is not None and "target.os != host.os" in err.hint


def test_use_when_in_the_file_must_be_a_string(tmp_path: Path) -> None:
    err = toml_error(tmp_path, "[container]\nuse_when = true\n")
    assert err.message == "xcargo.toml:2: container.use_when: expected a string, got true"


def test_an_empty_use_when_in_the_file_is_refused(tmp_path: Path) -> None:
    err = toml_error(tmp_path, '[container]\nuse_when = ""\n')
    assert err.message == "xcargo.toml:2: container.use_when: empty expression"


def test_a_multi_line_use_when_in_the_file_names_the_expressions_line(tmp_path: Path) -> None:
    err = toml_error(tmp_path, '[container]\nuse_when = """\n(true\n or host.famly == "x")"""\n')
    assert (err.line, err.key) == (2, "container.use_when")
    assert "unknown field 'host.famly' at line 2, column 5;" in err.message


# --- The evaluator is a second wall: it refuses on its own what the check refuses


@pytest.mark.parametrize(
    "text", ["target.__class__", "target.os.upper()", "__import__('os')", 'target.os + "x"']
)
def test_simpleeval_alone_refuses_what_the_check_refuses(text: str) -> None:
    unchecked = UseWhen(text, ast.parse(text, mode="eval").body)  # bypasses UseWhen.parse
    with pytest.raises(UsageError, match="cannot be evaluated"):
        unchecked.evaluate(target=LINUX_HOST, host=LINUX_HOST)


def test_a_result_that_is_not_true_or_false_is_refused_when_evaluated() -> None:
    unchecked = UseWhen("target.os", ast.parse("target.os", mode="eval").body)
    with pytest.raises(UsageError, match="gave 'linux' for x86_64-unknown-linux-gnu, not true"):
        unchecked.evaluate(target=LINUX_HOST, host=LINUX_HOST)
