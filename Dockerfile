# One image for every role; docker-compose.yml picks the role with `medmij serve ROLE`.
# With the PostgreSQL driver: docker-compose.scale-out.yml keeps the DVA's data there.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install ".[postgres]" && useradd --create-home --uid 10001 medmij \
    && mkdir -p /data /certs && chown medmij:medmij /data /certs
USER medmij
VOLUME ["/data", "/certs"]
ENTRYPOINT ["medmij"]
CMD ["--help"]
