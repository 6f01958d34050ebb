"""The consultations' fixtures (alice asks for a consultation), so that the
fuzzed API has data behind it."""

from tests.consultations.conftest import requested  # noqa: F401


def pytest_terminal_summary(terminalreporter) -> None:
    """The cases schemathesis sent per role and how many failed."""
    from tests.schemathesis.test_api_schema import CASES, FAILURES, ROLES

    if CASES:
        terminalreporter.section("schemathesis")
        for role in ROLES:
            terminalreporter.write_line(f"{role}: {CASES[role]} cases, {FAILURES[role]} failed")
