package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.BindException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import ptlab.report.Viewer;

/**
 * {@code ptlab serve}: the local viewer (translation explorer, schedule viewer, the report) on
 * 127.0.0.1. Runs until Ctrl-C, which stops the server and exits 0.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serves the local viewer on 127.0.0.1: a translation explorer (mode, address -> each level's "
                + "index and entry, fault and error code or physical address, TLB), a schedule viewer (step through "
                + "a schedule of explore or the demo, one column per CPU) and the HTML report of --data.",
        footer = {"", "Example:", "  ptlab demo && ptlab serve --data ptlab-demo"})
public final class ServeCommand implements Callable<Integer> {

    @Option(names = "--port", defaultValue = "0", description = "TCP port (default: a free one, printed at start)")
    int port;

    @Option(names = "--data", paramLabel = "DIR", defaultValue = ".",
            description = "directory with results and schedules (default: the current directory)")
    Path data;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (port < 0 || port > 65535) {
            throw new UsageException("--port must be 0..65535, got " + port);
        }
        if (!Viewer.readableDir(data)) {
            throw new UsageException("--data " + data + " is not a readable directory");
        }
        Viewer v;
        try {
            v = Viewer.start(port, data);
        } catch (BindException e) {
            throw new UsageException("cannot listen on 127.0.0.1:" + port + ": " + e.getMessage());
        }
        CountDownLatch stopped = new CountDownLatch(1);
        PrintWriter out = spec.commandLine().getOut();
        Thread hook = new Thread(() -> {     // Ctrl-C: stop serving, say so, then let the JVM exit (130)
            v.close();
            out.println("stopped");
            out.flush();
            stopped.countDown();
        });
        Runtime.getRuntime().addShutdownHook(hook);
        out.println("serving " + v.url() + " (data: " + data.toAbsolutePath().normalize() + "); Ctrl-C stops");
        out.flush();
        stopped.await();
        return Ptlab.EXIT_OK;
    }
}
