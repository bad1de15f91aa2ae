package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.tools.Scenarios;
import ptlab.engine.Schedule;
import ptlab.engine.TraceRecorder;

/** {@code ptlab replay}: re-runs a saved schedule exactly and prints its trace, ending with the violation. */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Re-runs a schedule saved by ptlab explore and prints each step: CPU, operation, address and "
                + "value, page-table entries decoded; exit 1 when it ends in a violation.")
public final class ReplayCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "SCHEDULE_FILE")
    Path file;

    @Option(names = "--max-steps", defaultValue = "100000", description = "step limit (default: ${DEFAULT-VALUE})")
    int maxSteps;

    @Option(names = "--format", defaultValue = "text", description = "text or json")
    OutputFormat format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        Schedule sch;
        try {
            sch = Schedule.load(file);
        } catch (NoSuchFileException e) {
            throw new UsageException("no such file: " + file);
        }
        Scenario sc = Scenarios.byName(sch.scenario());
        String variant = sc.variant(sch.variant()).name();
        TraceRecorder trace = new TraceRecorder();
        Machine m = Explorer.replay(sc, variant, sch.choices(), maxSteps, trace);
        PrintWriter out = spec.commandLine().getOut();
        if (format == OutputFormat.json) {
            ObjectNode o = Json.object();
            o.put("scenario", sc.name());
            o.put("variant", variant);
            o.put("steps", m.steps());
            ArrayNode lines = o.putArray("trace");
            for (TraceRecorder.Line l : trace.lines()) {
                ObjectNode t = lines.addObject();
                if (l.step() >= 0) {
                    t.put("step", l.step());
                }
                t.put("cpu", l.cpu());
                t.put("op", l.op());
                if (l.step() >= 0) {
                    t.put("addr", Json.hex(l.addr()));
                }
                t.put("text", l.text());
            }
            if (m.violation() == null) {
                o.putNull("violation");
            } else {
                o.put("violation", m.violation().describe());
            }
            out.println(Json.writePretty(o));
        } else {
            out.printf("replay %s, variant %s: %d listed choices, then each CPU runs on while it can%n", sc.name(),
                    variant, sch.choices().length);
            out.printf("%6s  %-5s %-11s %s%n", "step", "cpu", "operation", "address and value");
            for (TraceRecorder.Line l : trace.lines()) {
                out.println(l.format());
            }
            out.println(m.violation() == null ? "no violation (" + m.steps() + " steps)"
                    : "violation: " + m.violation().describe());
        }
        out.flush();
        return m.violation() != null ? Ptlab.EXIT_VIOLATION : Ptlab.EXIT_OK;
    }
}
