# Two commands on a fresh machine (Python 3.10+, no ROS install needed):
#   make demo   set up .venv and run the live pipeline on the built-in synthetic camera
#   make test   set up .venv and run the whole test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: setup demo test lint bench
setup: $(VENV)/.installed

$(VENV)/.installed: setup.py constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[ros,test]'
	touch $@

demo: setup
	$(VENV)/bin/deblur-ros demo

# A hung rclpy process can ignore SIGTERM: timeout -k makes sure the run ends.
test: setup
	timeout -k 30 3000 $(PY) -m pytest test
	$(VENV)/bin/ruff check deblur_ros test launch

lint: setup
	$(VENV)/bin/ruff check deblur_ros test launch

bench: setup
	$(VENV)/bin/deblur-ros bench --json bench/results.json
