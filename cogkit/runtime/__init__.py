"""Run a project or an image: prepare it, start its server, talk to it, stop it.

    backend    the interface both runtimes implement (prepare, start, exec; a Server has url,
               alive, logs, reload, stop) and the events they report instead of printing
    docker     a container with attached stdin, removed when it or we end
    local      cogkit's server as a child process here, the worker in the project venv (venv.py)
    session    choose the runtime, prepare, start and wait for READY with setup progress
    predict    `run_once`: one prediction or training; serve: `serve`, exec'ing light on local
    reload     --reload: watchfiles, .dockerignore-aware, SIGHUP restarts only the worker
    client     Cog's HTTP API: wait_ready, run (with server-sent events); inputs, outputs
    logs       the server's output line by line; ports, gpu, signals: small helpers

Submodules are imported on use: the docker SDK is loaded only on the docker paths, and the reload
supervisor imports only the standard library and watchfiles.
"""
