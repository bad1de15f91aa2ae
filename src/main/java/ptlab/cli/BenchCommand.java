package ptlab.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import ptlab.hw.PagingMode;
import ptlab.tools.WalkWorkloads;

/** {@code ptlab bench …}: quick in-process measurements (the JMH suite is the reference: see README). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Quick in-process performance measurements.",
        footer = {"", "Example:", "  ptlab bench walk --format json"},
        subcommands = {BenchCommand.Walk.class})
public final class BenchCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "walk", mixinStandardHelpOptions = true,
            description = {
                    "Times a TLB hit (Mmu) and page walks with A/D already set and tables in cache: a 4-level and",
                    "a 5-level walk of one page, and random 4-level walks over 1 GiB mapped with 4 KiB pages.",
                    "Each case warms up, then times short rounds with System.nanoTime and reports the best round.",
                    "A rough figure; for careful numbers use the JMH suite (mvn -Pbench package)."},
            footer = {"", "Examples:", "  ptlab bench walk", "  ptlab bench walk --seconds 10 --format json"})
    static final class Walk implements Callable<Integer> {

        @Option(names = "--format", defaultValue = "text", description = "text (default) or json")
        OutputFormat format;

        @Option(names = "--seconds", defaultValue = "3", paramLabel = "S",
                description = "total measuring time, split among the cases (default ${DEFAULT-VALUE})")
        double seconds;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            if (!(seconds > 0) || seconds > 600) {
                throw new UsageException("--seconds must be in (0, 600], got " + seconds);
            }
            long perCaseNanos = (long) (seconds * 1e9 / 4);
            double tlbHit = measure(WalkWorkloads.samePage(PagingMode.X86_64), perCaseNanos, true);
            double walk4 = measure(WalkWorkloads.samePage(PagingMode.X86_64), perCaseNanos, false);
            double walk5 = measure(WalkWorkloads.samePage(PagingMode.X86_64_LA57), perCaseNanos, false);
            double random1g = measure(WalkWorkloads.random1GiB(PagingMode.X86_64, 42), perCaseNanos, false);
            long perSecond = Math.round(1e9 / random1g);

            PrintWriter out = spec.commandLine().getOut();
            if (format == OutputFormat.json) {
                ObjectNode o = Json.object();
                o.put("tlb_hit_ns", round2(tlbHit));
                o.put("walk4_ns", round2(walk4));
                o.put("walk5_ns", round2(walk5));
                o.put("random_1g_ns", round2(random1g));
                o.put("translations_per_s", perSecond);
                out.println(Json.write(o));
            } else {
                out.printf("tlb_hit_ns          %8.2f  4-level translation hitting the TLB (Mmu)%n", tlbHit);
                out.printf("walk4_ns            %8.2f  4-level walk, same page, A/D set%n", walk4);
                out.printf("walk5_ns            %8.2f  5-level walk, same page, A/D set%n", walk5);
                out.printf("random_1g_ns        %8.2f  4-level walk, random address in 1 GiB of 4 KiB pages%n", random1g);
                out.printf("translations_per_s  %8.3g  for the random 1 GiB workload%n", (double) perSecond);
            }
            out.flush();
            return Ptlab.EXIT_OK;
        }
    }

    /**
     * Best nanoseconds per translation: warms up for a quarter of {@code budgetNanos}, then times
     * short rounds of {@value #ROUND} translations each with {@link System#nanoTime} for the
     * rest, and keeps the fastest. Rounds well under a scheduler time slice make the best one
     * an undisturbed run even on a busy machine.
     */
    static double measure(WalkWorkloads.Workload w, long budgetNanos, boolean viaMmu) {
        long sink = 0;
        long warmEnd = System.nanoTime() + budgetNanos / 4;
        while (System.nanoTime() < warmEnd) {
            sink += viaMmu ? w.runMmu(ROUND) : w.run(ROUND);
        }
        long end = System.nanoTime() + (budgetNanos - budgetNanos / 4);
        long best = Long.MAX_VALUE;
        int rounds = 0;
        long now;
        do {
            long start = System.nanoTime();
            sink += viaMmu ? w.runMmu(ROUND) : w.run(ROUND);
            now = System.nanoTime();
            best = Math.min(best, now - start);
            rounds++;
        } while (now < end || rounds < 5);
        if (sink == 42) {   // practically never; keeps the results alive
            System.err.print("");
        }
        return (double) best / ROUND;
    }

    /** Translations per timed round. */
    static final int ROUND = 1 << 13;

    private static double round2(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
