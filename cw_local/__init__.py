"""Running the pipeline without an AWS account: moto-based emulator, percentile support, workload.

Development and demo support only: nothing in the production code path imports this package.
"""
