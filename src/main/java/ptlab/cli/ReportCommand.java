package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import ptlab.report.HtmlReport;
import ptlab.report.PlotRegistry;
import ptlab.report.ReportInputs;

/** {@code ptlab report}: one self-contained HTML page from the outputs of experiments and explore. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = "Turns the --out directories of experiments (JSON, plots) and explore results (summaries, "
                + "schedules) into one self-contained HTML page: tables, plots, and for each the command line, seed "
                + "and ptlab version that produced it.",
        footer = {"", "Example:",
                "  ptlab experiment vmalloc-sync --arch x86-64 --procs 100 --vmallocs 2000 --out runs/vs",
                "  ptlab report --from runs --out report    # writes report/report.html"})
public final class ReportCommand implements Callable<Integer> {

    @Option(names = "--from", arity = "1..*", paramLabel = "DIR",
            description = "directories (searched " + ReportInputs.MAX_DEPTH + " levels deep) or JSON files "
                    + "(default: the current directory)")
    List<Path> from = List.of(Path.of("."));

    @Option(names = "--out", paramLabel = "DIR", description = "where report.html goes (default: ${DEFAULT-VALUE})",
            defaultValue = "ptlab-report")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        for (Path p : from) {
            if (!Files.exists(p)) {
                throw new UsageException("--from " + p + ": no such file or directory");
            }
        }
        ReportInputs in;
        try {
            in = ReportInputs.scan(from);
        } catch (IOException e) {
            throw new UsageException("cannot read --from " + from + ": " + e);
        }
        if (in.isEmpty()) {
            throw new UsageException("no ptlab results under " + from + " (experiment --out DIR, explore --out FILE "
                    + "or explore --format json > FILE)");
        }
        Path file = write(in, out);
        PrintWriter pw = spec.commandLine().getOut();
        pw.printf("report: %s (%d study result(s), %d explore summary(ies), %d schedule(s))%n", file,
                in.studies().size(), in.exploreSummaries().size(), in.schedules().size());
        pw.flush();
        return Ptlab.EXIT_OK;
    }

    /** Renders the report of {@code in} into {@code dir}/report.html; an unwritable place is exit 2. */
    static Path write(ReportInputs in, Path dir) throws IOException {
        HtmlReport.Page page = HtmlReport.render(in, PlotRegistry.standard());
        Path file = HtmlReport.file(dir);
        try {
            Files.createDirectories(dir);
            Files.writeString(file, page.html());
        } catch (IOException e) {
            throw new UsageException("cannot write " + file + ": " + e);
        }
        return file;
    }
}
