# socialpulse: one image for the Faust worker and the synthetic generator.
#
#   docker build -t socialpulse .
#   docker run --rm -e SOCIALPULSE_BROKER=kafka://kafka:9092 -p 6066:6066 socialpulse
#   docker run --rm -e SOCIALPULSE_BROKER=kafka://kafka:9092 socialpulse generate --rate 200
#
# Every dependency installs from a wheel on python:3.11-slim (amd64), so no compiler is needed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams/ streams/
COPY agents/ agents/
COPY alerts/ alerts/
COPY grafana/ grafana/
COPY cli/ cli/
RUN pip install --no-cache-dir . \
    && rm -rf /src/build /src/*.egg-info \
    && useradd --create-home --home-dir /home/socialpulse --uid 10001 \
        --shell /usr/sbin/nologin socialpulse

# Faust writes its data directory (<app id>-data) into the working directory: keep it writable.
USER socialpulse
WORKDIR /home/socialpulse

# Inside a container the metrics server must listen on every interface, not the loopback.
ENV SOCIALPULSE_WEB_HOST=0.0.0.0 \
    SOCIALPULSE_WEB_PORT=6066
EXPOSE 6066

ENTRYPOINT ["socialpulse"]
CMD ["worker", "-l", "info"]
