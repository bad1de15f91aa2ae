package ptlab.cli;

import java.io.PrintWriter;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code ptlab}: the command-line entry point. Exit codes (DESIGN.md): 0 success, 1 an
 * invariant violation was found, 2 bad input (one line on stderr naming the problem).
 */
@Command(name = "ptlab",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "A laboratory for kernel page-table algorithms on a bit-accurate x86 MMU model.",
        subcommands = {
                DemoCommand.class,
                MmuCommand.class,
                LayoutCommand.class,
                ExploreCommand.class,
                ReplayCommand.class,
                ExperimentCommand.class,
                ReportCommand.class,
                ServeCommand.class,
                TraceCommand.class,
                PtdumpCommand.class,
                BenchCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class Ptlab implements Runnable {

    public static final int EXIT_OK = 0;
    public static final int EXIT_VIOLATION = 1;
    public static final int EXIT_BAD_INPUT = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams; returns the exit code (used by tests too). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = commandLine();
        cl.setOut(out);
        cl.setErr(err);
        return cl.execute(args);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Ptlab());
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println(c.getCommandSpec().qualifiedName() + ": " + ex.getMessage());
            return EXIT_BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, c, parseResult) -> {
            if (ex instanceof UsageException || ex instanceof IllegalArgumentException) {
                c.getErr().println(c.getCommandSpec().qualifiedName() + ": " + ex.getMessage());
                return EXIT_BAD_INPUT;
            }
            throw ex;
        });
        return cl;
    }
}
