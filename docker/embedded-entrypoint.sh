#!/bin/sh
# Runs `streamlab up "$@"` with setup/stack.toml. Redis is another container, not 127.0.0.1:
# with STREAMLAB_REDIS_URL set, a copy of the stack with that REDIS_URL is deployed.
set -eu
stack="${STREAMLAB_STACK:-/opt/streamlab/setup/stack.toml}"
if [ -n "${STREAMLAB_REDIS_URL:-}" ]; then
    sed "s#redis://127\.0\.0\.1:6379/0#${STREAMLAB_REDIS_URL}#g" "$stack" > "$(dirname "$stack")/stack.container.toml"
    stack="$(dirname "$stack")/stack.container.toml"
fi
exec streamlab up --stack "$stack" "$@"
