"""`make bench` and `make bench-compare`: Accord's performance, measured against its own floors
and against Label Studio on the same generated workload. Nothing here runs in `make test`."""
