from delinkcious.migrations import run_env

run_env()
