"""One module per `surge` subcommand; registered in `surge.cli.COMMANDS`."""
