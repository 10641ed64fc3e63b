# syntax=docker/dockerfile:1
# recipe-bot image: `docker run IMAGE` is one `recipe-bot run`; `docker run IMAGE serve` is the
# long-running service. Deployments live in deploy/ (see deploy/README.md).
#
# Pin the base by digest in your own builds (--build-arg PYTHON_IMAGE=python:3.11-slim-trixie@sha256:...).
# Keep the Python minor version equal to the one requirements.lock was compiled with.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies before the code, so editing the bot does not reinstall them.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --no-deps --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY checkers ./checkers
# --no-deps: every runtime dependency is pinned in the lock; `pip check` fails the build when the
# lock misses one instead of letting pip pull an unpinned version.
RUN /opt/venv/bin/pip install --no-deps . \
 && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# /cache is created and owned here so a fresh named volume inherits the ownership.
RUN groupadd --gid 10001 recipe-bot \
 && useradd --uid 10001 --gid recipe-bot --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin recipe-bot \
 && mkdir /cache /recipes /etc/recipe-bot \
 && chown recipe-bot:recipe-bot /cache
COPY --from=build /opt/venv /opt/venv
# Numeric, so Kubernetes' runAsNonRoot can verify it without a runAsUser.
USER 10001:10001
# Mount a recipes checkout here for `check`, `list` and `update`; RECIPES_DIR defaults to it.
WORKDIR /recipes
VOLUME ["/cache"]
EXPOSE 8080
# Only `serve` has an HTTP endpoint: for any other command the check passes, so a long `run`
# is not reported unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; argv = open('/proc/1/cmdline', 'rb').read().split(b'\\0'); b'serve' in argv and urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["recipe-bot"]
CMD ["run"]
