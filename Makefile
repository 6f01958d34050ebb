# healthhub: `make demo` and `make test` need nothing but Python 3.11+.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
WORKERS ?= 50

.PHONY: venv demo test browser screenshots lint format bench clean messages lock audit

# The development set (runtime + test, browser, bench, dev groups), locked
# with hashes from pyproject.toml; the production image installs only
# requirements/runtime.txt.
$(STAMP): requirements/dev.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "healthhub needs Python 3.11 or newer"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	touch $(STAMP)

venv: $(STAMP)

# The demo runs with zero configuration: its embedded SECRET_KEY is allowed
# only with HEALTHHUB_DEMO=true (production refuses to start without a key).
demo: export HEALTHHUB_DEMO = true
demo: $(STAMP)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo --no-logins
	$(PY) manage.py seed_history --outbreak
	$(PY) manage.py demo --port $(PORT) --workers $(WORKERS)

test: $(STAMP)
	$(PY) -m pytest -m "not browser" $(PYTEST_ARGS)

# Browser tests in headless Chromium (Debian's `chromium` and `fonts-noto-cjk`
# packages; Playwright drives it, nothing is downloaded by `playwright install`).
browser: $(STAMP)
	$(PY) -m pytest -m browser -p no:cacheprovider $(PYTEST_ARGS)

# The README's screenshots: every main page at phone and desktop width, in Korean.
screenshots: $(STAMP)
	HEALTHHUB_SCREENSHOTS=docs/screenshots $(PY) -m pytest -m browser -p no:cacheprovider tests/browser/test_screenshots.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: export HEALTHHUB_DEMO = true
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench.alerts
	$(PY) -m bench.chart

# Re-lock after editing the dependencies in pyproject.toml: pins stay where
# they are unless a new requirement needs otherwise (add --upgrade to move
# them all, or --upgrade-package NAME for one).
LOCK := $(PY) -m uv pip compile pyproject.toml --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock"
lock: $(STAMP)
	$(LOCK) -o requirements/runtime.txt $(LOCK_ARGS)
	$(LOCK) --extra dev -o requirements/dev.txt $(LOCK_ARGS)

# Known vulnerabilities in the production set (needs the vulnerability database online).
audit: $(STAMP)
	.ci/pip-audit

clean:
	rm -rf $(VENV) var

# Re-extract translatable strings and compile them (needs GNU gettext); the
# compiled .mo files are committed so that a fresh machine needs no gettext.
messages: export HEALTHHUB_DEMO = true
messages: $(STAMP)
	$(PY) manage.py makemessages -l ko -l en --ignore=.venv --ignore=var --ignore=tests --ignore=bench
	$(PY) manage.py compilemessages --ignore=.venv
