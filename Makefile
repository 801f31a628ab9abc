# Two commands on a fresh machine (Python 3.10+, no ROS install needed):
#   make demo   set up .venv and run the live pipeline on the built-in synthetic camera
#   make test   set up .venv and run the whole test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: setup test-deps demo test lint bench
setup: $(VENV)/.installed

$(VENV)/.installed: setup.py constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[ros,test,openvino,onnx,fleet]'
	touch $@

demo: setup
	$(VENV)/bin/deblur-ros demo

# The launch tests (test/nodes/test_launch_and_config.py) run launch/live.launch.py for
# real: launch, launch_ros and ros2launch are not on PyPI, so they come from the sources
# in ../shared/vendor/ros2_launch (tests only, never a dependency of the package), with
# colcon from the package index to build the package. Without ../shared those tests skip.
LAUNCH_VENDOR := $(wildcard $(abspath ../shared/vendor/ros2_launch))
LAUNCH_PKGS := launch launch_xml launch_yaml launch_ros ros2launch

# ros-rosidl-parser pulls lark-parser 0.12, which writes the same lark/ folder as the lark
# 1.x that launch needs: lark goes in last, over it.
test-deps: setup $(if $(LAUNCH_VENDOR),$(VENV)/.launch-installed)

$(VENV)/.launch-installed: $(VENV)/.installed constraints.txt
	$(PIP) colcon-common-extensions osrf-pycommon
	$(PIP) --no-deps $(addprefix $(LAUNCH_VENDOR)/,$(LAUNCH_PKGS))
	$(PIP) --no-deps --force-reinstall lark
	touch $@

# A hung rclpy process can ignore SIGTERM: timeout -k makes sure the run ends.
test: test-deps
	timeout -k 30 3000 $(PY) -m pytest test
	$(VENV)/bin/ruff check deblur_ros test launch

lint: setup
	$(VENV)/bin/ruff check deblur_ros test launch

bench: setup
	$(VENV)/bin/deblur-ros bench --json bench/results.json
