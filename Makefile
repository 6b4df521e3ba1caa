# Entry points. Everything runs from the repository root with the pinned virtualenv.
#   make cloud   build the embedded lab on this machine, deploy the cloud into it, verify it
#   make test    the whole test suite (what CI runs)
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
PLAYBOOK := ansible-playbook
# Extra ansible-playbook arguments, e.g. make lab ARGS="-e lab_compute_count=2"
ARGS ?=
PYTEST := pytest
# Run history (ARA), off by default: `make site ARA=1` records the run in
# ~/.cache/ostack/ara/ (bootstrap installs requirements-ara.txt first, and
# bootstrap/with-ara.sh adds ARA's callback); `make ara-report` writes it out as HTML.
ARA ?= 0
export ARA
# Mitogen is ansible.cfg's default strategy (README "Performance"); plain Ansible:
# make site MITOGEN=0 (the same as ANSIBLE_STRATEGY=linear).
ifeq ($(MITOGEN),0)
export ANSIBLE_STRATEGY = linear
endif
ifeq ($(ARA),1)
PLAYBOOK := bash bootstrap/with-ara.sh ansible-playbook
endif

.PHONY: cloud site verify bootstrap lab lab-destroy test lint unit integration ara-report

cloud: bootstrap lab site verify

site: bootstrap
	$(PLAYBOOK) playbooks/site.yml $(ARGS)

verify: bootstrap
	$(PLAYBOOK) playbooks/verify.yml $(ARGS)

bootstrap:
	bash bootstrap/bootstrap.sh

lab: bootstrap
	$(PLAYBOOK) playbooks/lab.yml $(ARGS)

lab-destroy: bootstrap
	$(PLAYBOOK) playbooks/lab-destroy.yml $(ARGS)

# The test command of the README and of .ci/run: lint, unit tests, syntax checks,
# the modules' integration tests, the molecule scenarios, the lab integration test and
# the e2e test, in one pytest run (tests/test_order.txt lists the order). Two workers
# (pytest-xdist), one per lane of tests/budget.yml: lane b (modules, test image) runs
# beside lane a's unit, lint and molecule layers; the lab and e2e layers run alone.
test: bootstrap
	$(PYTEST) -v -p no:cacheprovider -n 2 $$(grep -vE '^\s*(#|$$)' tests/test_order.txt)

lint: bootstrap
	$(PYTEST) -v -p no:cacheprovider tests/lint

unit: bootstrap
	$(PYTEST) -v -p no:cacheprovider tests/unit

integration: bootstrap
	$(PYTEST) -v -p no:cacheprovider tests/integration

# The runs ARA recorded (make ... ARA=1), as static HTML to open in a browser.
ara-report:
	ARA=1 bash bootstrap/bootstrap.sh
	ARA_API_CLIENT=offline ARA_BASE_DIR=$(HOME)/.cache/ostack/ara $(VENV)/bin/ara-manage generate $(HOME)/.cache/ostack/ara-report
	@echo "open $(HOME)/.cache/ostack/ara-report/index.html"
