package dev.tollgate.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import dev.tollgate.cli.demo.DemoCommand;
import dev.tollgate.controlplane.ControlPlaneCommand;
import dev.tollgate.proxy.SidecarCommand;
import dev.tollgate.proxy.SidecarMain;
import dev.tollgate.webhook.WebhookCommand;

/** The one launcher: {@code ./tollgate control-plane | sidecar | webhook | ctl | demo}. */
@Command(name = "tollgate", mixinStandardHelpOptions = true, versionProvider = SidecarCommand.Version.class,
        description = {"Short-lived, task-scoped credentials for AI agents, enforced by a sidecar on every request.", ""},
        subcommands = {ControlPlaneCommand.class, SidecarCommand.class, WebhookCommand.class, CtlCommand.class, DemoCommand.class,
                CommandLine.HelpCommand.class},
        footer = {"", "Run './tollgate <command> --help' for a command's options. Docs: docs/ in the repository."})
public final class Tollgate implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) throws InterruptedException {
        if (args.length > 0 && args[0].equals("sidecar")) {
            // A sidecar's start does not build the whole CLI's command model (SidecarMain says why).
            SidecarMain.main(java.util.Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine() {
        // Identifiers such as a signing key's kid (a base64url thumbprint) may begin with '-': an argument that is no
        // known option is taken as a parameter rather than refused as an unknown option.
        return new CommandLine(new Tollgate()).setCaseInsensitiveEnumValuesAllowed(true)
                .setUnmatchedOptionsArePositionalParams(true);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
