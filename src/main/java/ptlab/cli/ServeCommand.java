package ptlab.cli;

import java.util.concurrent.Callable;

import picocli.CommandLine.Command;

/** placeholder, replaced below */
@Command(name = "serve", hidden = true)
public final class ServeCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 0;
    }
}
