"""The harness behind `bench/server.py`, one job per module.

* `launch`: the servers compared (cogkit, coglet, Cog 0.14, optionally cogkit at another git
  ref), their venvs, starting and stopping them, and reading their process tree's RSS and CPU;
* `clients`: the HTTP clients (keep-alive request loops, closed-loop clients, an SSE reader);
* `workloads`: what is measured, each workload with all servers up and taking turns;
* `report`: the tables, the ratios and the targets;
* `profiling`: where one server's time goes (`--decompose`, `--profile`).

Standard library only, so that a client library's cost is the same for every server.
"""
