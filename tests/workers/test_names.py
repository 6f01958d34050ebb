import pytest

from tests.factories import UserFactory
from workers.names import person_name


@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [("서연", "이", "이서연"), ("Seoyeon", "Lee", "Seoyeon Lee"), ("", "", "u1"), ("Ana", "", "Ana")],
)
def test_person_name(db, first, last, shown):
    assert person_name(UserFactory(username="u1", first_name=first, last_name=last)) == shown
