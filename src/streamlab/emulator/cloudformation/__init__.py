"""streamlab's CloudFormation service: stacks, change sets and the SAM transform, on the embedded endpoint.

Layout: :mod:`.api` (the query protocol), :mod:`.service` (the operations and their checks),
:mod:`.template` / :mod:`.intrinsics` / :mod:`.parameters` (the template language),
:mod:`.transform` (SAM), :mod:`.lint` (cfn-lint), :mod:`.engine` (ordering, create / update /
delete, rollback), :mod:`.providers` (one per resource type, each through the endpoint's own APIs).
"""
