# The two commands: `make demo` and `make test`. Each creates its own virtual
# environment and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean browser compiled

# uv (a dependency of releaselib, one wheel from PyPI) installs the rest several times
# faster than pip; pip stays the fallback where uv cannot run. uv writes no bytecode
# unless asked, and under PYTHONDONTWRITEBYTECODE (set in many CI images) nothing else
# would: every kernel, pytest worker, twine and pip would compile its imports anew.
install = $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '$(1)' \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '$(1)'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv>=0.5'
	$(call install,.[test])
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/releaselib demo

# Tests run on every core (pytest-xdist), plus one worker: about a seventh of the suite's time
# is spent waiting (servers, timeouts, the browser), which the extra worker fills (on 2 cores,
# 3 workers took 397 s and 445 s where 2 took 454 s and 466 s, interleaved). Tests sharing a
# module's or the session's set-up stay on one worker (tests/conftest.py). Byte-compiling first
# spares every kernel and worker compiling releaselib again when PYTHONDONTWRITEBYTECODE is set.
JOBS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))

# The two set-ups overlap (one mostly waits on PyPI, the other on Debian's mirror): on a fresh
# machine that is a quarter of a minute less before the first test starts.
test:
	@$(MAKE) --no-print-directory -j2 compiled browser
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(JOBS) --dist loadgroup

compiled: $(STAMP)
	$(BIN)/python -m compileall -q -x "releaselib/local/sample|tests/projects" releaselib tests >/dev/null

# The report test renders pages in Debian's headless Chromium (Playwright's own
# browser download cannot work offline). Installed when missing and root.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "note: could not install chromium; the browser test will be skipped"; \
	  else echo "note: chromium missing and not root; the browser test will be skipped"; fi; }

# bench_release compares the git side with bump-my-version (the `bench` extra).
bench: $(STAMP)
	$(call install,.[bench])
	$(BIN)/python benchmarks/bench_release.py

clean:
	rm -rf $(VENV) build *.egg-info
