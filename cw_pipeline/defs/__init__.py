"""The Dagster pieces of the code location: partitions, assets, resources, IO managers, job and schedule.

`cw_pipeline.definitions` assembles them; the domain logic they call lives in the plain modules one level up.
"""
