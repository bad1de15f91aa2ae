package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.AccessDeniedException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

/**
 * The exit-code contract (issue 11): 2 for bad input or environment with one line naming it, 3
 * for an internal error with one line, the stack trace only with --debug or PTLAB_DEBUG=1, and no
 * output lost silently.
 */
class ErrorModelTest {

    private record Reported(int code, String err) {
    }

    private static Reported report(Throwable t, boolean debug, String... command) {
        CommandLine cl = Ptlab.commandLine();
        for (String c : command) {
            cl = cl.getSubcommands().get(c);
        }
        StringWriter w = new StringWriter();
        cl.setErr(new PrintWriter(w, true));
        int code = Ptlab.report(t, cl, debug);
        return new Reported(code, w.toString());
    }

    @Test
    void anInternalIllegalArgumentExceptionIsAnInternalErrorNotAUserError() {
        Reported r = report(new IllegalArgumentException("bound must be positive"), false, "experiment", "vmalloc-sync");
        assertEquals(3, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("ptlab experiment vmalloc-sync: internal error"), r.err());
        assertTrue(r.err().contains("please report"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }

    @Test
    void theStackTraceOnlyWithDebug() {
        Reported r = report(new NullPointerException("x"), true, "layout");
        assertEquals(3, r.code());
        assertTrue(r.err().contains("\tat "), r.err());
    }

    @Test
    void ioErrorsAreEnvironmentErrorsNamingTheFile() {
        Reported r = report(new java.io.UncheckedIOException(new AccessDeniedException("/root/x")), false, "explore");
        assertEquals(2, r.code());
        assertEquals("ptlab explore: /root/x: permission denied", r.err().strip());
    }

    @Test
    void outOfMemoryNamesTheHeapSettingAndTheSizingOptions() {
        Reported r = report(new java.util.concurrent.ExecutionException(new OutOfMemoryError("Java heap space")), false,
                "experiment", "vmalloc-sync");
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("PTLAB_JAVA_OPTS=-Xmx") && r.err().contains("--procs"), r.err());
    }

    @Test
    void aUserErrorIsOneLineExitTwo() {
        Reported r = report(new UsageException("--x must be 1"), false, "layout");
        assertEquals(2, r.code());
        assertEquals("ptlab layout: --x must be 1", r.err().strip());
    }

    /** Issue 11, item 5: `layout > /dev/full` used to exit 0 with the output lost. */
    @Test
    void aFailedWriteToStdoutIsExitTwoWithTheReason() {
        OutputStream full = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("No space left on device");
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                throw new IOException("No space left on device");
            }
        };
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Ptlab.run(new String[] {"layout", "--arch", "x86-64"}, full, err, Map.of());
        assertEquals(2, code);
        assertEquals("ptlab: cannot write standard output: No space left on device", err.toString().strip());

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, Ptlab.run(new String[] {"layout", "--arch", "x86-64"}, out, err, Map.of()));
        assertTrue(out.toString().contains("VMALLOC_START"));
    }

    @Test
    void typosAreNamedWithSuggestions() {
        Cli.Run r = Cli.run("explor");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("'explor'") && r.err().contains("did you mean explore"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    /** Issue 11, item 13: one rule for command groups: help on stdout, exit 0. */
    @Test
    void everyCommandGroupWithoutASubcommandPrintsItsHelp() {
        for (String group : new String[] {"experiment", "mmu", "trace", "bench"}) {
            Cli.Run r = Cli.run(group);
            assertEquals(0, r.code(), group + ": " + r.err());
            assertTrue(r.out().startsWith("Usage: ptlab " + group), r.out());
        }
    }

    @Test
    void helpReachesNestedCommands() {
        Cli.Run r = Cli.run("help", "trace", "replay");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Usage: ptlab trace replay"), r.out());
        assertEquals(2, Cli.run("help", "trace", "nope").code());
    }

    /** The exit-code table is in every command's help. */
    @Test
    void everyHelpListsTheExitCodes() {
        List<CommandLine> all = new ArrayList<>();
        collect(Ptlab.commandLine(), all);
        assertTrue(all.size() > 12, "all commands: " + all.size());
        for (CommandLine c : all) {
            String help = c.getUsageMessage();
            assertTrue(help.contains("Exit codes:") && help.contains("internal error") && help.contains("violation"),
                    c.getCommandSpec().qualifiedName());
        }
    }

    private static void collect(CommandLine c, List<CommandLine> all) {
        all.add(c);
        c.getSubcommands().values().forEach(s -> collect(s, all));
    }

    /** Issue 11, item 14: --format json is done or refused, never ignored. */
    @Test
    void formatJsonIsNeverIgnored() throws Exception {
        Cli.Run demo = Cli.run("demo", "--format", "json");
        assertEquals(2, demo.code());
        assertEquals("", demo.out());
        var list = Cli.json("ptdump", "--list", "--format", "json");
        assertTrue(list.isArray() && list.size() >= 4);
        assertEquals("boot", list.get(0).get("scenario").asText());
    }

    /** Issue 11, item 19: one rule for output files: missing parent directories are created. */
    @Test
    void outputFilesGetTheirParentDirectoriesEverywhere(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path trace = dir.resolve("a/b/t.lackey");
        assertEquals(0, Cli.run("trace", "generate", "--lines", "10", "--out", trace.toString()).code());
        assertEquals(10, java.nio.file.Files.readAllLines(trace).size());
        java.nio.file.Path sched = dir.resolve("c/d/s.json");
        assertEquals(1, Cli.run("explore", "pte-clear-vs-dirty", "--seed", "1", "--out", sched.toString()).code());
        assertTrue(java.nio.file.Files.exists(sched));
    }
}
