"""Run directories: everything dlrun writes to and reads from `runs/`. No TensorFlow.

- `rundir`: one run directory (`Run`): creation, atomic writes, status, provenance.
- `summary`: summary.json's one writer's skeleton and its one reader.
- `catalog`: reading run directories for `dlrun runs / show / compare`, broken ones too.
- `lifecycle`: a run's status around a command that trains (running -> completed,
  failed or interrupted; SIGTERM taken as Ctrl-C).

Import from the module that defines a name (`from dlrun.runs.rundir import Run`): nothing
is re-exported here, so importing one module does not load the others (catalog reads
YAML, lifecycle installs signal handlers) and a test that patches a name patches the one
every caller uses.
"""
