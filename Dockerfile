# A CI runner image with deployctl: Debian 12, the .deb `make dist` built, and OpenSSH's
# client for looking at a host by hand. After `make dist`:
#   docker build -t deployctl-runner:0.2.0 .
# The install steps are scripts/install-deb, which CI (.ci/run) runs on its own machine too.
FROM debian:12-slim
COPY dist/deployctl_*.deb /tmp/deployctl/
COPY scripts/install-deb /usr/local/sbin/install-deb
RUN /usr/local/sbin/install-deb /tmp/deployctl/deployctl_*.deb \
    && apt-get update \
    && apt-get install -y --no-install-recommends openssh-client ca-certificates \
    && rm -rf /tmp/deployctl /var/lib/apt/lists/*
WORKDIR /work
ENTRYPOINT ["deployctl"]
CMD ["--help"]
