# pescador's vendored tests and the shim run only in a child process (run.py), with the
# shim first on sys.path; collected here they would import the real pescador.
collect_ignore_glob = ["upstream/*", "shim/*"]
