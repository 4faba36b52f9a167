"""xlt.jobs: the runs behind the commands: configuration -> data -> model -> compute -> report.

Jobs sit above every library layer (data -> models -> align/adapt -> transfer/retrieval ->
evaluate) and may use all of them; no library layer imports from here. Each command module in
:mod:`xlt.cli` parses options into a job's config dataclass and calls its ``run_*`` function.
"""
