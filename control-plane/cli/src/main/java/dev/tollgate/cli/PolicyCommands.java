package dev.tollgate.cli;

import picocli.CommandLine.Command;

/** {@code ctl policy}: work with transition policies. Each subcommand is its own class. */
final class PolicyCommands {
    private PolicyCommands() {
    }

    @Command(name = "policy", mixinStandardHelpOptions = true, description = "Test transition policies.",
            subcommands = {PolicyTestCommand.class})
    static final class Policy extends TokenCommands.Group {
    }
}
