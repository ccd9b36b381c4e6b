"""One module per `migbench` subcommand."""
