"""The consultations' fixtures (alice asks, clara takes it), for the
security tests that need a consultation."""

from tests.consultations.conftest import active, requested  # noqa: F401
