# streamlab's embedded endpoint (`streamlab up`) in a container: no token, no Docker socket,
# functions run as subprocesses of this container.
#
#   docker compose --profile embedded up -d --wait embedded redis
#   docker build -f docker/embedded.Dockerfile -t streamlab-embedded:local .
#
# BASE_IMAGE: any Debian-based image with Python >= 3.11, pip and venv, e.g. one built locally
# where Docker Hub is unreachable:  --build-arg BASE_IMAGE=my-registry/python:3.11-slim
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /opt/streamlab
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .
COPY handlers ./handlers
COPY setup ./setup
COPY docker/embedded-entrypoint.sh /usr/local/bin/streamlab-embedded
RUN chmod 0755 /usr/local/bin/streamlab-embedded \
    && useradd --create-home --uid 10001 streamlab \
    && chown -R streamlab /opt/streamlab

USER streamlab
EXPOSE 4566
# STREAMLAB_HEALTH_URL: where the endpoint answers when it does not listen on 4566 (host networking).
ENV STREAMLAB_HEALTH_URL=http://127.0.0.1:4566/_streamlab/health
HEALTHCHECK --interval=3s --timeout=5s --start-period=10s --retries=40 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['STREAMLAB_HEALTH_URL'], timeout=3)"]
# Binding all interfaces is what a container needs (the host publishes the port on 127.0.0.1);
# `streamlab up` prints a warning about it, which is expected here.
ENTRYPOINT ["streamlab-embedded"]
CMD ["--host", "0.0.0.0", "--port", "4566"]
