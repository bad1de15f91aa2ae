package ptlab.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code ptlab experiment STUDY}: the studies of DESIGN.md. Like every command group ({@code mmu},
 * {@code trace}, {@code bench}, {@code ptlab} itself), without a subcommand it prints its help and
 * exits 0.
 */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = "Runs one of the studies and prints its comparison table.",
        footer = {"", "Example:", "  ptlab experiment vmalloc-sync --arch x86-64 --procs 100 --vmallocs 2000"},
        subcommands = {VmallocSyncCommand.class, RelocationCommand.class, FaultLockingCommand.class})
public final class ExperimentCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
