package ptlab.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ptlab help [COMMAND [SUBCOMMAND]]}: the help of any command, nested ones included
 * ({@code ptlab help trace replay} is {@code ptlab trace replay --help}); picocli's own help
 * command stops at the first level.
 */
@Command(name = "help", description = "Shows the help of a command, e.g. ptlab help trace replay.",
        footer = {"", "Examples:", "  ptlab help", "  ptlab help experiment vmalloc-sync"})
final class HelpCommand implements Callable<Integer> {

    @Parameters(arity = "0..*", paramLabel = "COMMAND", description = "a command and its subcommands")
    List<String> commands = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        CommandLine c = spec.parent().commandLine();
        for (String name : commands) {
            CommandLine sub = c.getSubcommands().get(name);
            if (sub == null) {
                throw new UsageException("no command '" + String.join(" ", commands) + "': "
                        + c.getCommandSpec().qualifiedName() + " has " + String.join(", ", c.getSubcommands().keySet()));
            }
            c = sub;
        }
        c.usage(spec.commandLine().getOut());
        return Ptlab.EXIT_OK;
    }
}
