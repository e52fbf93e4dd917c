# syntax=docker/dockerfile:1
# Hushroom in a container: the web client built with Node.js, the wheel built with it inside
# (hatch_build.py), installed at uv.lock's hashes into /opt/hushroom; the final image has
# Python and that virtual environment only (no Node.js, no compiler, no source tree).
#
#   docker build -t hushroom .          (or: podman build -t hushroom .)
#   docker run -p 127.0.0.1:8000:8000 -v hushroom-data:/var/lib/hushroom hushroom
#
# One node with SQLite as above; several nodes with PostgreSQL, Redis and nginx:
# deploy/compose.yaml. docs/decisions/0009-packaging.md.

ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

# --- 1. The web client: web/dist ---------------------------------------------------------
FROM ${NODE_IMAGE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- 2. The wheel, and the virtual environment it runs in --------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock hatch_build.py README.md LICENSE THIRD_PARTY_NOTICES.md ./
COPY src/ src/
COPY --from=web /src/web/dist web/dist
# The wheel fails to build without web/dist (hatch_build.py), so the image always has it.
RUN uv build --wheel --out-dir /dist \
 && uv export --frozen --no-dev --extra server --no-emit-project --format requirements-txt \
      -o /dist/requirements.txt \
 && uv venv /opt/hushroom \
 && uv pip install --python /opt/hushroom/bin/python --require-hashes --compile-bytecode \
      -r /dist/requirements.txt \
 && uv pip install --python /opt/hushroom/bin/python --no-deps --compile-bytecode /dist/*.whl

# --- 3. The runtime ----------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/hushroom --no-create-home \
      hushroom \
 && install -d -o hushroom -g hushroom -m 0700 /var/lib/hushroom
COPY --from=build /opt/hushroom /opt/hushroom
ENV PATH=/opt/hushroom/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HUSHROOM_DATA_DIR=/var/lib/hushroom \
    HUSHROOM_HOST=0.0.0.0 \
    HUSHROOM_PORT=8000
USER hushroom
WORKDIR /var/lib/hushroom
VOLUME ["/var/lib/hushroom"]
EXPOSE 8000
# SIGTERM: WebSockets close with 1012, requests and commits finish (up to 10 s), then exit.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('HUSHROOM_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["hushroom"]
# Migrates the database first; with several nodes, run `hushroom db upgrade` once and start
# them with `serve --no-upgrade` (deploy/compose.yaml).
CMD ["serve"]
