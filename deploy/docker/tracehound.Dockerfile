# syntax=docker/dockerfile:1
# The tracehound image: a self-contained tracehound in /opt/tracehound, a source for
# COPY --from in your image, or the init container of `tracehound ecs instrument`.
#
#   docker build -f deploy/docker/tracehound.Dockerfile -t tracehound:0.1.0 .
#
# glibc flavour. The bundle carries its own CPython and libraries but uses the
# application image's libc, which must be glibc and at least the builder's version:
# the default builder is Debian 12 (glibc 2.36), good for Debian 12+, Ubuntu 24.04+
# and images built on them (the official nginx, python:*-bookworm, node:*-bookworm).
# For an older glibc (Ubuntu 22.04: 2.35, Amazon Linux 2023 and UBI 9: 2.34, Debian
# 11: 2.31) pass a builder of that age with Python >= 3.11 built --enable-shared:
#   --build-arg PYTHON_BUILDER=python:3.11-slim-bullseye
# Alpine (musl) images: use tracehound-alpine.Dockerfile instead.
ARG PYTHON_BUILDER=python:3.11-slim-bookworm

FROM ${PYTHON_BUILDER} AS build
WORKDIR /src
# binutils: PyInstaller inspects shared libraries with objdump; gcc and libc6-dev
# build the C capture core (the image's Python brings its own headers).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# Dependencies first, so source edits do not reinstall them.
COPY pyproject.toml setup.py README.md ./
COPY agent agent
COPY sinks sinks
COPY filters filters
COPY config config
COPY src src
# The local project; its dependency ranges live in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[bundle]"
COPY deploy/bundle deploy/bundle
RUN sh deploy/bundle/build.sh /opt/tracehound /tmp/tracehound-build \
    && rm -rf /tmp/tracehound-build

# A libc of the builder's family, so the image can also run: as the init container of
# `tracehound ecs instrument`, its default command copies the bundle into the task
# volume and exits. COPY --from=... /opt/tracehound takes only the bundle.
FROM debian:12-slim
COPY --from=build /opt/tracehound /opt/tracehound
CMD ["/opt/tracehound/bin/tracehound", "install-bundle", "/tracehound"]
