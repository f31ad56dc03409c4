# syntax=docker/dockerfile:1
# The tracehound image for Alpine (musl) application images, e.g. nginx:*-alpine.
#
#   docker build -f deploy/docker/tracehound-alpine.Dockerfile -t tracehound:0.1.0-alpine .
#
# Same layout as tracehound.Dockerfile (/opt/tracehound/bin/tracehound), built
# against musl; it needs an Alpine at least as new as the builder's (3.20).
# Limit: this variant is built and linted in CI only as a Dockerfile; the musl
# bundle itself has not been exercised by tracehound's tests (they run on glibc).
ARG PYTHON_BUILDER=python:3.11-alpine3.20

FROM ${PYTHON_BUILDER} AS build
WORKDIR /src
# binutils: PyInstaller inspects shared libraries with objdump; gcc, musl-dev and
# linux-headers build the C capture core.
# hadolint ignore=DL3018
RUN apk add --no-cache binutils gcc musl-dev linux-headers
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
FROM alpine:3.20
COPY --from=build /opt/tracehound /opt/tracehound
CMD ["/opt/tracehound/bin/tracehound", "install-bundle", "/tracehound"]
