"""streamlab's Lambda service: control plane, execution environments, logs.

One module per concern, in the direction a request flows:

- ``service.py``          LambdaService: the WSGI app the gateway routes ``lambda`` to, start/stop,
                          and the in-process API of the event source mapping engine.
- ``api.py``              REST routing of the 2015-03-31 (and friends) paths, JSON shapes, errors; it
                          sees the service only through the narrow protocols it declares.
- ``exceptions.py``       AWS error codes and HTTP statuses.
- ``control_plane.py``    functions, versions, aliases, concurrency: validation, code, states.
- ``function_settings.py`` resource policies, tags, EventInvokeConfig, provisioned concurrency.
- ``policies.py``         the statement AddPermission builds.
- ``layers.py``           layer versions and the ``/opt`` a function's layers make.
- ``models.py``           Function, FunctionConfig (one immutable snapshot per revision or version),
                          aliases and settings, FunctionStore.
- ``code.py``             deployment packages: zip validation, unpacking, fetching from S3.
- ``event_source_mappings.py`` mapping records, validation, store with change subscribers.
- ``invoke.py``           the invocation lifecycle (timeouts, errors, log lines).
- ``async_invoke.py``     Event invocations: retries, event age, destination records.
- ``invocation.py``       one invocation in flight and its outcome.
- ``interpreters.py``     which Python each runtime runs on (named, PATH, pyenv, uv).
- ``runtime_packages.py`` the runtime directory (awslambdaric, boto3) and its builds per interpreter.
- ``environment.py``      one execution environment: an awslambdaric subprocess and its output.
- ``pool.py``             the environments, with Lambda's concurrency rules.
- ``runtime_api.py``      the Runtime API (2018-06-01) server each environment talks to.
- ``logs.py``             CloudWatch Logs output, written off the hot path.
"""
