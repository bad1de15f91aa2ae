package ptlab.cli;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import ptlab.hw.PagingMode;
import ptlab.tools.TraceReplay;
import ptlab.trace.TraceFormat;
import ptlab.trace.TraceGenerator;
import ptlab.trace.TraceReader;

/** {@code ptlab trace replay|generate}: memory-access traces through a demand-paged process. */
@Command(name = "trace", mixinStandardHelpOptions = true,
        description = "Replay a memory-access trace (valgrind lackey or plain) through the simulated MMU, "
                + "or generate a synthetic one.",
        footer = {"", "Examples:", "  ptlab trace generate --lines 1000000 --out /tmp/t.lackey",
                "  ptlab trace replay /tmp/t.lackey --trace-format lackey --arch x86-64"},
        subcommands = {TraceCommand.Replay.class, TraceCommand.Generate.class})
public final class TraceCommand implements Runnable {

    /** Exit code after Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2). */
    static final int EXIT_INTERRUPTED = 130;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = {
                    "Replays a memory-access trace through one demand-paged user process on one CPU and counts "
                            + "TLB hits and misses, page walks, page faults and page-table pages.",
                    "Accepted input (bytes, no String per line; lines end with \\n, \\r\\n is accepted):",
                    "  lackey: 'I  ADDR,SIZE' fetch, ' L ADDR,SIZE' load, ' S ADDR,SIZE' store, ' M ADDR,SIZE' "
                            + "load then store; ADDR 1-16 hex digits without 0x, SIZE decimal 1..1048576 (1 MiB); "
                            + "lines starting with '==' (after optional blanks) are valgrind's banner and ignored.",
                    "  plain: 'R|W|X 0xADDR [SIZE]' (either case; 0x mandatory; SIZE decimal 1..1048576, default 1); "
                            + "'#' starts a comment, also at the end of a line.",
                    "  Blank lines are ignored. Anything else is skipped: a size of 0 or over 1 MiB, a bad address, "
                            + "a line longer than the read buffer (1 MiB). Skipped lines are counted "
                            + "(skipped_lines) with the first one's number (first_skipped_line), never dropped silently.",
                    "An access crossing a page boundary touches both pages.",
                    "Ctrl-C stops the replay and prints the counts so far with \"interrupted\": true (exit 130)."},
            footer = {"", "Examples:",
                    "  ptlab trace generate --lines 1000000 --out /tmp/t.lackey",
                    "  ptlab trace replay /tmp/t.lackey --trace-format lackey --arch x86-64",
                    "  valgrind --tool=lackey --trace-mem=yes ls 2>&1 | ptlab trace replay - --trace-format lackey "
                            + "--arch x86-64 --format json"})
    static final class Replay implements Callable<Integer>, Ptlab.SizesTheRun {

        @Parameters(index = "0", paramLabel = "FILE", description = "the trace, or - for stdin")
        String file;

        @Option(names = "--trace-format", required = true, paramLabel = "lackey|plain",
                description = "lackey or plain")
        String traceFormat;

        @Option(names = "--arch", required = true, description = "x86-32, x86-32-pae, x86-64 or x86-64-la57")
        String arch;

        @Option(names = "--page-size", defaultValue = "4K", paramLabel = "4K|2M",
                description = "4K, or 2M: the kernel's transparent huge pages at the pmd level, where a 2M "
                        + "range fits the VMA (x86-64 and x86-64-la57) (default: ${DEFAULT-VALUE})")
        String pageSize;

        @Option(names = "--tlb-entries", description = "entries of the TLB array for the page size "
                + "(default: 64 for 4K pages, 32 for large pages)")
        Integer tlbEntries;

        @Option(names = "--tlb-ways", description = "ways of that array, LRU within a set (default: 4)")
        Integer tlbWays;

        @Option(names = "--ram", converter = SizeConverter.class, defaultValue = "4G",
                description = "simulated RAM (default: ${DEFAULT-VALUE})")
        long ram;

        @Option(names = "--zero-page", description = "read faults map the shared zero page, as Linux does by "
                + "default (then a write after a read faults again, copy-on-write)")
        boolean zeroPage;

        @Option(names = "--threads", paramLabel = "1|2",
                description = "threads parsing the trace: 2 split every buffer between them, and "
                        + "one of them also replays; the results are the same (default: 2 when the "
                        + "machine has two cores or more, else 1)")
        Integer threads;

        @Option(names = "--buffer", converter = SizeConverter.class, defaultValue = "1M", hidden = true,
                description = "read buffer size (default: ${DEFAULT-VALUE})")
        long bufferBytes;

        @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
        OutputFormat format;

        @Spec
        CommandSpec spec;

        @Override
        public String sizingOptions() {
            return "--ram, --tlb-entries";
        }

        @Override
        public Integer call() throws IOException {
            TraceReplay.Config config = config();
            int parseThreads = parseThreads();
            TraceFormat tf = UsageException.userInput(() -> TraceFormat.fromCliName(traceFormat));
            if (bufferBytes > (1 << 30)) {
                throw new UsageException("--buffer of " + bufferBytes + " bytes is too large");
            }
            long size = -1;
            ReadableByteChannel in;
            if (file.equals("-")) {
                in = Channels.newChannel(System.in);
            } else {
                in = open(file);
                size = Files.size(Path.of(file));
            }
            TraceReplay replay;
            try {
                replay = new TraceReplay(config);
            } catch (TraceReplay.OutOfSimulatedRam e) {
                throw new UsageException(e.getMessage());
            }
            TraceReader reader = tf.reader(in, (int) bufferBytes, parseThreads);
            StopOnShutdown stop = new StopOnShutdown(reader);
            TraceReplay.Result r;
            try (in; Progress progress = Progress.forFile(size)) {
                r = replay.replay(reader, progress == null ? null : progress::stepTo);
            } catch (TraceReplay.OutOfSimulatedRam e) {
                throw new UsageException(e.getMessage());
            } catch (IOException e) {   // e.g. /proc/self/mem: opens, then the read fails
                throw new UsageException("cannot read " + (file.equals("-") ? "stdin" : file) + ": "
                        + CliFiles.describe(e));
            } finally {
                stop.disarm();
            }
            PrintWriter out = spec.commandLine().getOut();
            out.println(format == OutputFormat.json ? Json.writePretty(toJson(file, tf, r)) : toText(file, tf, r, size));
            out.flush();
            stop.done();
            return r.interrupted() ? EXIT_INTERRUPTED : Ptlab.EXIT_OK;
        }

        private TraceReplay.Config config() {
            PagingMode mode = UsageException.userInput(() -> PagingMode.fromCliName(arch));
            boolean large = largePages(mode, pageSize);
            TraceReplay.Config d = TraceReplay.Config.of(mode, large);
            int entries = tlbEntries != null ? tlbEntries : d.tlbEntries();
            int ways = tlbWays != null ? tlbWays : d.tlbWays();
            checkTlb(entries, ways);
            if (mode == PagingMode.X86_32 && ram > (4L << 30)) {
                throw new UsageException("--ram " + ram + ": x86-32 without PAE addresses at most 4G");
            }
            if (ram < (64L << 20)) {
                throw new UsageException("--ram " + ram + " is too small: at least 64M");
            }
            return d.withTlb(entries, ways).withRam(ram).withZeroPage(zeroPage);
        }

        /** --threads, or 2 when the JVM may run two threads at once (parsing is most of a replay's work). */
        private int parseThreads() {
            if (threads == null) {
                return Runtime.getRuntime().availableProcessors() >= 2 ? 2 : 1;
            }
            if (threads != 1 && threads != 2) {
                throw new UsageException("--threads must be 1 or 2, not " + threads);
            }
            return threads;
        }
    }

    /** The largest TLB the model allocates up front (real ones have a few thousand entries at most). */
    static final int MAX_TLB_ENTRIES = 1 << 20;

    /** A TLB the model can build: entries = ways x sets, sets a power of two, and a bounded size. */
    static void checkTlb(int entries, int ways) {
        if (entries < 1) {
            throw new UsageException("--tlb-entries must be at least 1, got " + entries);
        }
        if (ways < 1) {
            throw new UsageException("--tlb-ways must be at least 1, got " + ways);
        }
        if (entries > MAX_TLB_ENTRIES) {
            throw new UsageException("--tlb-entries " + entries + " is more than this model allows (" + MAX_TLB_ENTRIES
                    + "; real TLBs have a few thousand)");
        }
        if (entries % ways != 0) {
            throw new UsageException("--tlb-entries " + entries + " is not a multiple of --tlb-ways " + ways);
        }
        if (Integer.bitCount(entries / ways) != 1) {
            throw new UsageException("--tlb-entries " + entries + " / --tlb-ways " + ways + " = " + entries / ways
                    + " sets; the set count must be a power of two");
        }
    }

    /**
     * Whether {@code --page-size} asks for pmd-level pages. Those come from the kernel's transparent
     * huge pages, which the kernel model has with 4/5-level paging only; a pmd-level page on x86-32
     * would be 4 MiB (and 2 MiB with PAE), so 2M and 4M are refused there with the reason.
     */
    static boolean largePages(PagingMode mode, String pageSize) {
        String size = pageSize.toUpperCase(java.util.Locale.ROOT);
        switch (size) {
            case "4K", "4KB", "4KIB", "4096":
                return false;
            case "2M", "2MB", "2MIB", "4M", "4MB", "4MIB":
                break;
            default:
                throw new UsageException("--page-size must be 4K or 2M, not '" + pageSize + "'");
        }
        if (!mode.isLongMode()) {
            throw new UsageException("--page-size " + pageSize + ": user pages on " + mode.cliName()
                    + " are 4K here (the kernel model has transparent huge pages on x86-64 and x86-64-la57 only)");
        }
        if (size.startsWith("4")) {
            throw new UsageException("--page-size 4M: " + mode.cliName()
                    + " maps 2M pages at the pmd level (4M pages exist only on x86-32 without PAE)");
        }
        return true;
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {
                    "Writes a synthetic, program-shaped trace: instruction fetches with loops and calls to "
                            + "skewed hot functions, stack accesses, sequential array streams, a hot heap "
                            + "region and cold random accesses over 256 MiB.",
                    "The same --lines, --seed and --arch always give the same bytes."},
            footer = {"", "Examples:", "  ptlab trace generate --lines 20000000 --out /tmp/t.lackey",
                    "  ptlab trace generate --lines 1000 --trace-format plain | head"})
    static final class Generate implements Callable<Integer> {

        @Option(names = "--lines", required = true, description = "lines to write (banner lines included)")
        long lines;

        @Option(names = "--seed", defaultValue = "1", description = "random seed (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--trace-format", defaultValue = "lackey", paramLabel = "lackey|plain",
                description = "lackey or plain (default: ${DEFAULT-VALUE})")
        String traceFormat;

        @Option(names = "--arch", defaultValue = "x86-64",
                description = "address layout: a 32-bit process for x86-32 and x86-32-pae, else 64-bit "
                        + "(default: ${DEFAULT-VALUE})")
        String arch;

        @Option(names = {"--out", "-o", "--output"}, paramLabel = "FILE",
                description = "FILE to write, checked before writing; missing parent directories are created "
                        + "(default: stdout)")
        Path output;

        @Override
        public Integer call() {
            if (lines < 0) {
                throw new UsageException("--lines must be at least 0, got " + lines);
            }
            TraceFormat tf = UsageException.userInput(() -> TraceFormat.fromCliName(traceFormat));
            PagingMode mode = UsageException.userInput(() -> PagingMode.fromCliName(arch));
            TraceGenerator.Layout layout = mode.isLongMode() ? TraceGenerator.Layout.X86_64
                    : TraceGenerator.Layout.X86_32;
            if (output != null) {
                CliFiles.writableFile(output, "--out");
            }
            String where = output == null ? "standard output" : output.toString();
            try (OutputStream os = output == null ? new FileOutputStream(FileDescriptor.out)
                    : new BufferedOutputStream(Files.newOutputStream(output), 1 << 16)) {
                TraceGenerator.generate(os, tf, layout, lines, seed);
            } catch (IOException e) {   // a closed pipe (| head), a full disk
                throw new UsageException("cannot write " + where + ": " + CliFiles.describe(e));
            }
            return Ptlab.EXIT_OK;
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private static FileChannel open(String file) {
        Path p = CliFiles.readable(file);
        try {
            return FileChannel.open(p, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new UsageException("cannot read " + CliFiles.describe(e));
        }
    }

    /**
     * Ctrl-C: the JVM runs shutdown hooks, and this one asks the reader to stop, then waits (a few
     * seconds at most) until the partial result is printed, so that it is not lost.
     */
    private static final class StopOnShutdown {
        private final CountDownLatch printed = new CountDownLatch(1);
        private final Thread hook;

        StopOnShutdown(TraceReader reader) {
            hook = new Thread(() -> {
                reader.requestStop();
                try {
                    printed.await(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "ptlab-trace-stop");
            Runtime.getRuntime().addShutdownHook(hook);
        }

        /** The replay is over: a later Ctrl-C needs no special handling (unless it already began). */
        void disarm() {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: done() releases it once the result is out
            }
        }

        void done() {
            printed.countDown();
        }
    }

    /**
     * A progress bar on stderr by bytes read, only for a file on an interactive terminal and never
     * in CI logs. Its class (and jline's) is loaded only when shown.
     */
    interface Progress extends AutoCloseable {
        void stepTo(long bytes);

        @Override
        void close();

        static Progress forFile(long size) {
            if (!Terminal.stderrIsTerminal() || size < (64L << 20)) {
                return null;
            }
            return ProgressBarDisplay.create(size);
        }
    }

    // ---- output ---------------------------------------------------------------------------------

    static ObjectNode toJson(String file, TraceFormat tf, TraceReplay.Result r) {
        ObjectNode o = Json.object();
        o.put("trace", file);
        o.put("trace_format", tf.cliName());
        o.put("arch", r.config().mode().cliName());
        o.put("page_size", 1L << r.config().pageShift());
        o.put("tlb_entries", r.config().tlbEntries());
        o.put("tlb_ways", r.config().tlbWays());
        o.put("bytes", r.bytesRead());
        o.put("lines", r.lines());
        o.put("records", r.records());
        o.put("ignored_lines", r.ignoredLines());
        o.put("skipped_lines", r.skippedLines());
        if (r.firstSkippedLine() > 0) {
            o.put("first_skipped_line", r.firstSkippedLine());
        } else {
            o.putNull("first_skipped_line");
        }
        o.put("accesses", r.accesses());
        o.put("out_of_range", r.outOfRange());
        o.put("sigsegv", r.sigsegv());
        o.put("distinct_pages", r.distinctPages());
        ObjectNode pt = o.putObject("page_table_pages");
        for (Map.Entry<String, Long> e : r.pageTablePages().entrySet()) {
            pt.put(e.getKey(), e.getValue());
        }
        pt.put("total", r.pageTablePagesTotal());
        o.put("tlb_hits", r.tlbHits());
        o.put("tlb_misses", r.tlbMisses());
        o.put("walk_memory_refs", r.walkMemoryRefs());
        o.put("page_faults", r.pageFaults());
        o.put("wall_seconds", Math.round(r.seconds() * 1e6) / 1e6);
        o.put("lines_per_s", Math.round(r.linesPerSecond()));
        o.put("interrupted", r.interrupted());
        return o;
    }

    static String toText(String file, TraceFormat tf, TraceReplay.Result r, long size) {
        TraceReplay.Config c = r.config();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("trace             %s (%s, %,d bytes)%n", file.equals("-") ? "stdin" : file,
                tf.cliName(), r.bytesRead()));
        sb.append(String.format("machine           %s, %s pages%s, TLB %d entries %d-way LRU, one CPU, RAM %s%n",
                c.mode().cliName(), MmuCommand.sizeName(1L << c.pageShift()), c.largePages() ? " (THP)" : "",
                c.tlbEntries(), c.tlbWays(), MmuCommand.sizeName(c.ramBytes())));
        sb.append(String.format("process           one anonymous rwx VMA over all of user space, demand paged%s%n",
                c.zeroPage() ? ", zero page on reads" : ""));
        sb.append(String.format("lines             %,d  (records %,d, ignored %,d, skipped %,d)%n", r.lines(),
                r.records(), r.ignoredLines(), r.skippedLines()));
        if (r.skippedLines() > 0) {
            sb.append(String.format("                  first skipped line: %d%n", r.firstSkippedLine()));
        }
        sb.append(String.format("accesses          %,d%s%s%n", r.accesses(), r.outOfRange() == 0 ? ""
                : String.format("  (%,d more above the end of user space, not replayed)", r.outOfRange()),
                r.sigsegv() == 0 ? "" : String.format("  (%,d got SIGSEGV: below mmap_min_addr)", r.sigsegv())));
        sb.append(String.format("distinct pages    %,d%n", r.distinctPages()));
        StringBuilder levels = new StringBuilder();
        for (Map.Entry<String, Long> e : r.pageTablePages().entrySet()) {
            levels.append(levels.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue());
        }
        sb.append(String.format("page-table pages  %,d  (%s)%n", r.pageTablePagesTotal(), levels));
        long translations = r.tlbHits() + r.tlbMisses();
        sb.append(String.format("TLB hits          %,d  (%.2f%%)%n", r.tlbHits(), percent(r.tlbHits(), translations)));
        sb.append(String.format("TLB misses        %,d  (%.2f%%)%n", r.tlbMisses(),
                percent(r.tlbMisses(), translations)));
        sb.append(String.format("walk memory refs  %,d%n", r.walkMemoryRefs()));
        sb.append(String.format("page faults       %,d%n", r.pageFaults()));
        sb.append(String.format("wall time         %.3f s, %,.0f lines/s%s", r.seconds(), r.linesPerSecond(),
                r.interrupted() ? String.format("%ninterrupted       after %,d bytes%s", r.bytesRead(),
                        size < 0 ? "" : String.format(" of %,d", size)) : ""));
        return sb.toString();
    }

    private static double percent(long part, long whole) {
        return whole == 0 ? 0 : 100.0 * part / whole;
    }
}
