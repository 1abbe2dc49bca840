# The front door. `make demo` and `make test` are the README's first two commands.
SHELL := /bin/bash
APT_PACKAGES := openssh-server docker.io docker-registry busybox-static iproute2 \
                libssh2-1-dev libcurl4-openssl-dev libyaml-dev pkg-config curl apache2-utils \
                shellcheck caddy prometheus prometheus-pushgateway
# Subnet of the testbed `make test` brings up; `auto` takes a free one (one per lane), so
# several checkouts can test at once.
TESTBED_SUBNET ?= auto
# Lanes of that testbed: whole sets of hosts, one per end-to-end test running at once
# (Tests/DeployctlTests/Support/Testbed.swift hands them out). Each is 9 hosts, about 400 MB;
# on 2 cores, 6 ran the tests in 186 s, 4 in 240 s, and 8 no faster than 4 (the CPU was full).
TESTBED_LANES ?= 6
# Each lane's hosts: beside dev, staging, prod and a 3-node swarm, a 2-node swarm `clones` whose
# nodes share one host name, as VMs cloned from one image do (SwarmNodeTests: tasks are placed
# on their nodes by node ID, not by name).
TESTBED_HOST_COUNTS ?= dev=1,staging=1,prod=2,swarm=3,clones=2
TESTBED_SWARM ?= swarm clones
TESTBED_SWARM_SAME_HOSTNAME ?= clones
export TESTBED_HOST_COUNTS TESTBED_SWARM TESTBED_SWARM_SAME_HOSTNAME

# Every shell script under scripts/ and .ci/ (by its #! line), for shellcheck.
SHELL_SCRIPTS = $(shell grep -rlE '^\#!(/usr/bin/env |/bin/)(ba)?sh' scripts .ci)

.PHONY: packages setup build demo check test lint format clean dist bench bench-ssh bench-fanout

# The Debian packages deployctl and its testbed need.
packages:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(APT_PACKAGES); \
	fi

# Installs those packages, then builds.
setup: packages
	swift build

build:
	swift build

# Local dev, staging and prod hosts, and deployctl shipping the example app through them.
demo: setup
	scripts/demo

# The unit tests: no testbed, no root; the end-to-end suites skip themselves (they need
# DEPLOYCTL_TESTBED, unset here). About 20 s once built.
check: packages
	swift build --build-tests
	env -u DEPLOYCTL_TESTBED swift test --skip-build

# Unit tests and end-to-end tests against real sshd, dockerd and registry: the testbed
# comes up in .testbed (TESTBED_LANES lanes) while the tests build, DEPLOYCTL_TESTBED points
# at it, and it goes down when the tests end, also when they fail or are interrupted
# (README "Testbed"). .testbed/lanes.log says which test held which lane, how long.
# swift test's output is kept in .testbed/swift-test.log as well; when the run fails, its
# failed tests and issues (the ✘ lines) are repeated at the very end, where a CI log's tail
# shows them. The exit status stays swift test's (or the testbed's, if it did not come up).
test: packages
	@rm -f .testbed/swift-test.log .testbed/lanes.log; status=0; \
	  echo "scripts/testbed run --dir .testbed --subnet $(TESTBED_SUBNET) --lanes $(TESTBED_LANES)" \
	    "--alongside 'swift build --build-tests' -- swift test --skip-build"; \
	  scripts/testbed run --dir .testbed --subnet $(TESTBED_SUBNET) --lanes $(TESTBED_LANES) \
	    --alongside 'swift build --build-tests' -- \
	    bash -o pipefail -c 'swift test --skip-build 2>&1 | tee "$$DEPLOYCTL_TESTBED/swift-test.log"' \
	    || status=$$?; \
	  if [ $$status -ne 0 ]; then \
	    echo; echo "make test failed (exit $$status). Failed tests and issues (.testbed/swift-test.log):"; \
	    grep -a '✘' .testbed/swift-test.log || tail -n 30 .testbed/swift-test.log 2>/dev/null \
	      || echo "(no output from swift test: did the testbed come up?)"; \
	  fi; \
	  exit $$status

lint:
	swift format lint --strict --recursive Package.swift Sources Tests
	shellcheck $(SHELL_SCRIPTS)

format:
	swift format --in-place --recursive Package.swift Sources Tests

clean:
	rm -rf .build dist

# Release files in dist/: deployctl-VERSION-linux-ARCH.tar.gz (Swift linked statically),
# deployctl_VERSION_ARCH.deb, SHA256SUMS. VERSION is in Sources/DeployKit/Version.swift.
dist: setup
	scripts/dist

# deploy + rollback on 1, 4, 10 and 20 testbed hosts: deployctl vs Ansible vs a hand-written
# parallel ssh step (root; installs Ansible from PyPI into .bench/venv once). README "Benchmark".
bench: setup
	scripts/bench-deploy $(BENCH_HOSTS)

# deployctl exec vs parallel OpenSSH on 10, 50 and 200 local sshd servers (root).
bench-ssh: setup
	scripts/bench-ssh 10 50 200

# deployctl exec to 1,000 SSH endpoints (63 local sshd processes x 16 loopback addresses; root).
bench-fanout: setup
	scripts/bench-fanout 1000

# What clients see while a release changes, on 1 and 4 testbed hosts: deployctl's proxy
# (blue-green), stop-first and a hand-written ssh step, under request-loop's load (root).
.PHONY: bench-zero-downtime
bench-zero-downtime: setup
	scripts/bench-zero-downtime
