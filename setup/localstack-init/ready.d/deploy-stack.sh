#!/usr/bin/env bash
# LocalStack init hook (ready.d): deploy setup/template.yaml into this LocalStack once it is ready.
#
# docker-compose.yml mounts this directory at /etc/localstack/init/ready.d and the repository,
# read-only, at /opt/streamlab. LocalStack's image has python3 (and awslocal) but not streamlab,
# so this hook copies the repository to a writable place, installs streamlab into a venv there
# (reused on a container restart) and runs `streamlab deploy --template` against LocalStack's own
# edge port: the template's code is packaged to S3 and the stack created through LocalStack's
# CloudFormation, as `samlocal deploy` would. Deploy is idempotent (a change set without
# changes), so running the hook again is harmless.
#
# The Lambda functions run in containers LocalStack starts on the `streamlab` network, where
# Redis is `redis:6379`, not 127.0.0.1: the template's RedisUrl parameter is STREAMLAB_REDIS_URL
# (default redis://redis:6379/0).
#
# On success the hook writes $STATE/deployed; the compose healthcheck waits for that file, so
# "healthy" means "LocalStack is up AND the stack is deployed". A failed deploy leaves the service
# unhealthy and the reason in `docker compose logs localstack` and $STATE/deploy.log.
# Environment: STREAMLAB_DEPLOY=0 skips the deploy (healthy as soon as LocalStack is);
# STREAMLAB_SRC (default /opt/streamlab), STREAMLAB_TEMPLATE (default setup/template.yaml, relative
# to it), STREAMLAB_STACK_NAME (default streamlab-shop), STREAMLAB_PIP_ARGS (extra pip arguments).
set -euo pipefail

SRC="${STREAMLAB_SRC:-/opt/streamlab}"
TEMPLATE_REL="${STREAMLAB_TEMPLATE:-setup/template.yaml}"
STACK_NAME="${STREAMLAB_STACK_NAME:-streamlab-shop}"
STATE="${STREAMLAB_STATE_DIR:-/tmp/streamlab}"
WORK="$STATE/src"
VENV="$STATE/venv"
ENDPOINT="http://127.0.0.1:${GATEWAY_PORT:-4566}"
REDIS_URL_IN_LAMBDA="${STREAMLAB_REDIS_URL:-redis://redis:6379/0}"

mkdir -p "$STATE"
rm -f "$STATE/deployed"
exec > >(tee -a "$STATE/deploy.log") 2>&1
log() { echo "[streamlab init] $*"; }

if [[ "${STREAMLAB_DEPLOY:-1}" == "0" ]]; then
    log "STREAMLAB_DEPLOY=0: not deploying the stack"
    touch "$STATE/deployed"
    exit 0
fi
if [[ ! -f "$SRC/pyproject.toml" || ! -f "$SRC/$TEMPLATE_REL" ]]; then
    log "ERROR: no streamlab repository at $SRC (mount the repository there, see docker-compose.yml)"
    exit 1
fi

# A writable copy: the mount is read-only and pip builds in the source tree.
log "copying $SRC to $WORK"
rm -rf "$WORK"
mkdir -p "$WORK"
tar -C "$SRC" --exclude=./.venv --exclude=./.git --exclude=./.streamlab --exclude=./.pytest_cache \
    --exclude='*/__pycache__' -cf - . | tar -C "$WORK" -xf -

if [[ ! -x "$VENV/bin/streamlab" ]]; then
    log "installing streamlab into $VENV (first start only)"
    python3 -m venv "$VENV"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --quiet --disable-pip-version-check ${STREAMLAB_PIP_ARGS:-} "$WORK"
else
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall ${STREAMLAB_PIP_ARGS:-} "$WORK"
fi

TEMPLATE="$WORK/$TEMPLATE_REL"

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

# ready.d runs once LocalStack reports ready; still, retry a few times in case a service is slow.
for attempt in 1 2 3 4 5; do
    log "deploying $TEMPLATE_REL as $STACK_NAME to $ENDPOINT (attempt $attempt)"
    if "$VENV/bin/streamlab" deploy --endpoint-url "$ENDPOINT" --template "$TEMPLATE" --stack-name "$STACK_NAME" \
        --parameter-overrides "RedisUrl=${REDIS_URL_IN_LAMBDA}"; then
        touch "$STATE/deployed"
        log "stack deployed"
        exit 0
    fi
    sleep $((attempt * 3))
done
log "ERROR: deploy failed; see above"
exit 1
