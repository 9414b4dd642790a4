#!/bin/sh
# Runs `streamlab up "$@"` with the demo shop's template. Redis is another container, not
# 127.0.0.1: STREAMLAB_REDIS_URL becomes the template's RedisUrl parameter. The health answer
# is 503 until the stack is deployed, so the image's HEALTHCHECK (and compose's) wait for it.
set -eu
template="${STREAMLAB_TEMPLATE:-/opt/streamlab/setup/template.yaml}"
if [ -n "${STREAMLAB_REDIS_URL:-}" ]; then
    exec streamlab up --template "$template" --parameter-overrides "RedisUrl=${STREAMLAB_REDIS_URL}" "$@"
fi
exec streamlab up --template "$template" "$@"
