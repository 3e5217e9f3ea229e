"""`python -m cogkit.worker`: the child process that runs user code (see child.py)."""

from cogkit.worker.child import main

if __name__ == "__main__":
    main()
