"""The engine: one experiment run on one host, start to finish, always leaving the host as
it was; batches of them over a fleet; and the host tasks around a run.

- ``options``: what a run is asked to do (``RunOptions``) and the events it emits
  (``events``: messages, progress, the finished record) for the CLI to render;
- ``preflight``: what the host lacks for the plan (workload and probes included);
- ``changes``: config files rendered from templates, the settings plan shown;
- ``supervisor``: the client of the target-side supervisor (``labkit.remote.supervise``):
  spec, start, poll (status + progress from the workload's log), stop, outcome;
- ``record``: the run record started and finished (the one place it is finalised);
- ``restore``: the one path that puts a journal's settings back;
- ``run``: the run's state machine; ``hostops``: facts, setup-host, restore, collect;
- ``batch``: playbook x repeats x sweep points over a fleet of hosts.
"""
