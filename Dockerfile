# The worker and trainer image: `docker compose -f docker-compose.kafka.yml up --build`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what `pip install .` needs (pyproject names README.md as its readme): a change to
# tests or tooling then does not re-run the install.
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY models ./models
# /features and /state are created here so fresh named volumes mounted on them inherit
# the app user's ownership (the trainer writes features as that user).
RUN pip install . \
    && useradd --create-home --uid 10001 app \
    && mkdir -p /features /state \
    && chown app:app /features /state

USER app
ENV FEATURES_DIR=/features STATE_DIR=/state WEB_HOST=0.0.0.0
EXPOSE 6066
CMD ["python", "-m", "streams", "worker"]
