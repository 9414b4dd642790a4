"""streamlab's Lambda service: control plane, execution environments, logs.

One module per concern, in the direction a request flows:

- ``service.py``      LambdaService: the WSGI app the gateway routes ``lambda`` to, start/stop,
                      and the in-process API of the event source mapping engine.
- ``api.py``          REST routing of the 2015-03-31 (and friends) paths, JSON shapes, errors.
- ``exceptions.py``   AWS error codes and HTTP statuses.
- ``control_plane.py`` function operations: validation, code, states, concurrency.
- ``models.py``       Function, FunctionConfig (one immutable snapshot per revision), FunctionStore.
- ``code.py``         deployment packages: zip validation, unpacking, fetching from S3.
- ``event_source_mappings.py`` mapping records, validation, store with change subscribers.
- ``invoke.py``       the invocation lifecycle (timeouts, errors, log lines), Event invocations.
- ``invocation.py``   one invocation in flight and its outcome.
- ``environments.py`` awslambdaric subprocesses and the pool with Lambda's concurrency rules.
- ``runtime_api.py``  the Runtime API (2018-06-01) server each environment talks to.
- ``logs.py``         CloudWatch Logs output, written off the hot path.
"""
