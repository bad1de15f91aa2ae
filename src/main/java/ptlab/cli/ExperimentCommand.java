package ptlab.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ptlab experiment STUDY}: the studies of DESIGN.md. */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = "Runs one of the studies and prints its comparison table.",
        subcommands = {VmallocSyncCommand.class, RelocationCommand.class})
public final class ExperimentCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a study: vmalloc-sync, relocation");
    }
}
