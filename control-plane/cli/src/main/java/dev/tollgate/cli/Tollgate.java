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
        // known option is taken as a parameter rather than refused as an unknown option. Short options do not cluster
        // (nor take a value attached without '='), so "-hAbc…" is a kid, never -h (help, exit 0 without revoking) and
        // "-oAbc…" is never "-o Abc…": an option is only ever its exact name, or its name '=' its value.
        CommandLine cl = new CommandLine(new Tollgate()).setCaseInsensitiveEnumValuesAllowed(true)
                .setUnmatchedOptionsArePositionalParams(true)
                .setPosixClusteredShortOptionsAllowed(false);
        takeParametersVerbatim(cl);
        return cl;
    }

    /**
     * Every positional parameter, and every single String or Path value of an option, takes its argument as given.
     * picocli refuses an argument that begins with a known short option's "-h", "-V" or "-o" even when it is no option
     * ("Expected parameter ... but found"); only a parameter consumer is asked before that check. The options and
     * subcommands are matched first, as before, so exactly "-h", "--output=json" or "--" still mean what they say, and
     * an option's value that is exactly one of the command's options (or one of them with '=') is a missing value.
     * A positional parameter of another shape would be silently mistreated, so one fails every command at once (every
     * CLI test builds this command line).
     */
    private static void takeParametersVerbatim(CommandLine cl) {
        CommandLine.Model.CommandSpec spec = cl.getCommandSpec();
        for (CommandLine.Model.PositionalParamSpec p : java.util.List.copyOf(spec.positionalParameters())) {
            if (p.arity().max() != 1 || p.group() != null || p.converters().length > 0 || !stringOrPath(p)) {
                throw new IllegalStateException(spec.qualifiedName() + " " + p.paramLabel()
                        + ": a positional parameter is one String or Path (takeParametersVerbatim sets no other)");
            }
            spec.remove(p);
            spec.addPositional(CommandLine.Model.PositionalParamSpec.builder(p).parameterConsumer(Tollgate::verbatim).build());
        }
        for (CommandLine.Model.OptionSpec o : java.util.List.copyOf(spec.options())) {
            if (o.usageHelp() || o.versionHelp() || o.group() != null || o.interactive() || o.isMultiValue()
                    || o.arity().min() != 1 || o.arity().max() != 1 || o.converters().length > 0 || !stringOrPath(o)) {
                continue; // enums, numbers, flags, lists: picocli's own handling
            }
            spec.remove(o);
            spec.addOption(CommandLine.Model.OptionSpec.builder(o).parameterConsumer(Tollgate::optionValue).build());
        }
        cl.getSubcommands().values().forEach(Tollgate::takeParametersVerbatim);
    }

    private static boolean stringOrPath(CommandLine.Model.ArgSpec a) {
        return a.type() == String.class || a.type() == java.nio.file.Path.class;
    }

    private static void verbatim(java.util.Stack<String> args, CommandLine.Model.ArgSpec argSpec,
            CommandLine.Model.CommandSpec spec) {
        String arg = args.pop();
        argSpec.setValue(argSpec.type() == java.nio.file.Path.class ? java.nio.file.Path.of(arg) : arg);
    }

    private static void optionValue(java.util.Stack<String> args, CommandLine.Model.ArgSpec argSpec,
            CommandLine.Model.CommandSpec spec) {
        String next = args.isEmpty() ? null : args.peek();
        int eq = next == null ? -1 : next.indexOf('=');
        if (next == null || spec.optionsMap().containsKey(next)
                || (eq > 0 && spec.optionsMap().containsKey(next.substring(0, eq)))) {
            CommandLine.Model.OptionSpec o = (CommandLine.Model.OptionSpec) argSpec;
            throw new CommandLine.MissingParameterException(spec.commandLine(), argSpec,
                    "Missing required parameter for option '" + o.longestName() + "' (" + o.paramLabel() + ")");
        }
        verbatim(args, argSpec, spec);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
