"""Settings of the ASGI server in the PostgreSQL-restart fault test: the test
overrides, but with the production connection pool (tests.settings turns it
off so that test databases can be dropped), which is what decides how soon
ingestion resumes after the database returns."""

from healthhub.dbpool import reconnect_promptly
from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

# As healthhub/settings.py has it for PostgreSQL.
DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 2, "max_size": 20, "timeout": 30}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
reconnect_promptly()
