package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
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
import ptlab.engine.Strategies;
import ptlab.engine.Strategy;
import ptlab.engine.TraceRecorder;
import ptlab.hw.PagingMode;

/**
 * {@code ptlab replay}: re-runs a saved schedule exactly and prints its trace, ending with the
 * violation. The file records how its run ended; a replay that ends otherwise (an edited file, a
 * schedule of another scenario or ptlab version, a listed CPU that could not run at its step, a
 * run cut short by --max-steps) says so and exits 2: it did not reproduce anything.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {"Re-runs a schedule saved by ptlab explore and prints each step: CPU, operation, address "
                + "and value, page-table entries decoded; exit 1 when it ends in the recorded violation.",
                "If the replay does not end as the file records (edited or foreign file, a listed CPU that cannot "
                        + "run at its step, --max-steps reached first), it says \"diverged from the recorded run\" "
                        + "and exits 2."},
        footer = {"", "Examples:", "  ptlab explore pte-clear-vs-dirty --seed 1 --out s.json",
                "  ptlab replay s.json", "  ptlab replay s.json --format json"})
public final class ReplayCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "SCHEDULE_FILE", description = "a schedule written by ptlab explore --out")
    String file;

    @Option(names = "--arch", description = "paging mode (default: the one the file records, or the variant's first "
            + "mode for a file without \"arch\"); one that contradicts the file is refused")
    String arch;

    @Option(names = "--max-steps", defaultValue = "100000", description = "step limit (default: ${DEFAULT-VALUE})")
    int maxSteps;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (maxSteps < 1) {
            throw new UsageException("--max-steps must be at least 1, got " + maxSteps);
        }
        String text = CliFiles.readText(file, 64 << 20);
        try {
            Json.mapper().readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {   // our words, not the parser's
            throw new UsageException(file + " is not JSON (line " + e.getLocation().getLineNr()
                    + "); expected a schedule written by ptlab explore --out");
        }
        Schedule sch = UsageException.userInput(() -> {
            try {
                return Schedule.load(Path.of(file));
            } catch (IOException e) {
                throw new UsageException("cannot read " + CliFiles.describe(e));
            }
        });
        boolean recorded = recordsOutcome(text);
        Scenario named = UsageException.userInput(() -> Scenarios.byName(sch.scenario()));
        String variant = UsageException.userInput(() -> named.variant(sch.variant())).name();
        PagingMode mode = mode(sch, named, variant);
        Scenario sc = UsageException.userInput(() -> Scenario.inMode(named, variant, mode));
        Machine m = sc.build(variant);
        int[] choices = sch.choices();
        for (int i = 0; i < choices.length; i++) {
            if (choices[i] >= m.choiceCount()) {
                throw new UsageException(file + ": choices[" + i + "] = " + choices[i] + ", but " + sc.name() + " ("
                        + variant + ") has only " + m.choiceCount() + " choices (CPUs 0.." + (m.cpuCount() - 1)
                        + (m.choiceCount() > m.cpuCount() ? ", then its injectable events" : "") + ")");
            }
        }
        TraceRecorder trace = new TraceRecorder();
        m.setListener(trace);
        long[] notEnabledAt = {-1};
        Strategies.Replay follow = new Strategies.Replay(choices, choices.length);
        Strategy checking = (machine, enabled, step) -> {
            if (step < choices.length && (enabled & (1L << choices[step])) == 0 && notEnabledAt[0] < 0) {
                notEnabledAt[0] = step;
            }
            return follow.choose(machine, enabled, step);
        };
        Machine.Outcome outcome = m.run(checking, new int[maxSteps], maxSteps);
        String divergence = divergence(sch, recorded, m, outcome, notEnabledAt[0]);
        PrintWriter out = spec.commandLine().getOut();
        if (format == OutputFormat.json) {
            ObjectNode o = Json.object();
            o.put("scenario", sc.name());
            o.put("variant", variant);
            o.put("arch", mode.cliName());
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
            o.put("step_limit_reached", outcome == Machine.Outcome.STEP_LIMIT);
            if (divergence == null) {
                o.putNull("diverged");
            } else {
                o.put("diverged", divergence);
            }
            out.println(Json.writePretty(o));
        } else {
            out.printf("replay %s, variant %s, arch %s: %d listed choices, then each CPU runs on while it can%n",
                    sc.name(), variant, mode.cliName(), sch.choices().length);
            out.printf("%6s  %-5s %-11s %s%n", "step", "cpu", "operation", "address and value");
            for (TraceRecorder.Line l : trace.lines()) {
                out.println(l.format());
            }
            if (outcome == Machine.Outcome.STEP_LIMIT) {
                out.println("stopped at the step limit (--max-steps " + maxSteps + ") before the run ended");
            }
            out.println(m.violation() == null ? "no violation (" + m.steps() + " steps)"
                    : "violation: " + m.violation().describe());
        }
        out.flush();
        if (divergence != null) {
            throw new UsageException(divergence);
        }
        return m.violation() != null ? Ptlab.EXIT_VIOLATION : Ptlab.EXIT_OK;
    }

    /**
     * The paging mode to replay in: the file's {@code arch}, an explicit {@code --arch} that agrees
     * with it, or (a file from before {@code --arch}) the option or the variant's first mode. An
     * {@code --arch} contradicting the file would replay another machine: refused.
     */
    private PagingMode mode(Schedule sch, Scenario sc, String variant) {
        PagingMode recorded = sch.arch() == null ? null
                : UsageException.userInput(() -> PagingMode.fromCliName(sch.arch()));
        PagingMode asked = arch == null ? null : UsageException.userInput(() -> PagingMode.fromCliName(arch));
        if (recorded != null && asked != null && recorded != asked) {
            throw new UsageException(file + " was recorded on " + recorded.cliName() + ", not --arch " + asked.cliName()
                    + " (drop --arch, or explore again with --arch " + asked.cliName() + ")");
        }
        return recorded != null ? recorded : asked != null ? asked : sc.mode(variant);
    }

    /** Whether the file has a "violation" key (null or a message): schedules by explore do. */
    private static boolean recordsOutcome(String text) {
        try {
            com.fasterxml.jackson.databind.JsonNode n = Json.mapper().readTree(text);
            return n != null && n.has("violation");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return false;
        }
    }

    /** Why the replay is not the recorded run, or null when it is. */
    private String divergence(Schedule sch, boolean recorded, Machine m, Machine.Outcome outcome, long notEnabledAt) {
        String got = m.violation() == null ? null : m.violation().describe();
        if (notEnabledAt >= 0) {
            return "diverged from the recorded run: choices[" + notEnabledAt + "] = " + sch.choices()[(int) notEnabledAt]
                    + " could not run at step " + (notEnabledAt + 1) + " (edited file, or another ptlab version?)";
        }
        if (outcome == Machine.Outcome.STEP_LIMIT && (!recorded || sch.violation() != null)) {
            return "replay cut short by --max-steps " + maxSteps + " before the run ended"
                    + (recorded ? " (the file records " + sch.steps() + " steps)" : "");
        }
        if (recorded && !java.util.Objects.equals(sch.violation(), got)) {
            return "diverged from the recorded run: the file records " + (sch.violation() == null ? "no violation"
                    : "\"" + sch.violation() + "\"") + ", the replay ended with "
                    + (got == null ? "no violation" : "\"" + got + "\"");
        }
        return null;
    }
}
