"""Start a model server for a project or an image, wait for READY, run predictions, stop.

    session    prepare() a Target (build the image or the venv, read the schema), start() it
    docker     run an image's server in a container on a free 127.0.0.1 port, always removed
    local      run cogkit's server here, the worker in the project venv (venv.py), always stopped
    client     wait_ready() and run() against Cog's HTTP API, with server-sent event streaming
    inputs     -i / --json into a checked `input`; outputs: print or write what comes back
    gpu        --gpus decisions and the minimum-driver check; watch: --reload's file snapshots

Submodules are imported on use: the docker SDK is loaded only on the docker paths.
"""
