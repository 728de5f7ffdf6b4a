# A SageMaker-compatible inference image: SageMaker runs `docker run <image> serve`, mounts the
# model (an MLflow model logged by `driftloop train`) at /opt/ml/model and calls /ping and
# /invocations on port 8080. Build: docker build -t driftloop . (not built in CI: no Docker engine).
# The same image is a Model Monitor analyzer (bring your own container): a monitoring job definition
# with ContainerEntrypoint ["monitor-analyze"] checks each window's capture against the baseline.
FROM python:3.11-slim
WORKDIR /opt/driftloop
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --create-home model
USER model
ENV DRIFTLOOP_HOME=/tmp/driftloop
EXPOSE 8080
CMD ["serve"]
