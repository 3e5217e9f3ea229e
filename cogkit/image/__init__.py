"""From a build plan to a labelled image on the local engine.

    context    stage the build context (Dockerfile, project, weights, cogkit itself)
    build      build_project(): spec → plan → context → BuildKit build → schema label; reports
               warnings and builder lines to a callback (cogkit.cli.build_display prints them)
    builder    run `docker build` (BuildKit, or the legacy builder as a fallback) and follow it
    progress   parse the builder's plain output into steps, timings and the failing step
    engine     the docker SDK client, and which docker CLI can drive BuildKit
    labels     Cog's label names, OCI annotations and cogkit's own
    schema     read the predictor's OpenAPI schema from a built image (or a local venv)

Submodules are imported on use, so that importing one does not load the docker SDK.
"""
