# The aggregator Lambda (handler cw_pipeline.lambda_handler.handler): the Dagster job, run in-process.
# A container image because dagster + dagster-aws + pandas measure ~324 MB installed, over Lambda's
# 250 MB unzipped limit for zip packages (docs/lambda.md). Built by `cdk deploy` from the repository root
# (infra_cdk/packaging.py); `cdk synth` and the tests only fingerprint it, nothing here needs Docker.
FROM public.ecr.aws/lambda/python:3.12

# The same uv as the Makefile's UV_VERSION, used only to read the lock.
ARG UV_VERSION=0.13.8

ENV DAGSTER_HOME=/tmp/dagster_home \
    DAGSTER_DISABLE_TELEMETRY=true \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Runtime dependencies exactly as locked: the project's main dependencies only (no dev, infra or api
# groups/extras), with their hashes, installed next to the handler.
COPY pyproject.toml uv.lock /tmp/build/
RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
 && uv export --project /tmp/build --frozen --no-default-groups --no-emit-project --no-header \
        --output-file /tmp/build/requirements.txt \
 && pip install --no-cache-dir --require-hashes -r /tmp/build/requirements.txt --target "${LAMBDA_TASK_ROOT}" \
 && pip uninstall --yes uv \
 && rm -rf /tmp/build

# The product package only (cw_local, interactions_api, tests and docs are left out by .dockerignore),
# compiled here: Lambda's file system is read-only, so an uncompiled package is compiled at every cold start.
COPY cw_pipeline/ ${LAMBDA_TASK_ROOT}/cw_pipeline/
RUN python -m compileall -q "${LAMBDA_TASK_ROOT}/cw_pipeline"

CMD ["cw_pipeline.lambda_handler.handler"]
