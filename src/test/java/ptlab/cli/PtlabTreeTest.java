package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

/**
 * {@code Ptlab.commandLineFor} builds only the subcommand a command line names (start-up, issue
 * 15). Nothing a user sees may depend on that: every command's help and a set of bad command lines
 * print the same, with the same exit code, on the partial tree as on the whole one.
 */
class PtlabTreeTest {

    private record Outcome(int code, String out, String err) { }

    private static Outcome run(CommandLine tree, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Ptlab.execute(tree, args, new PrintWriter(out, true), new PrintWriter(err, true), Map.of());
        return new Outcome(code, out.toString(), err.toString());
    }

    private static void assertSameOnBothTrees(String... args) {
        Outcome partial = run(Ptlab.commandLineFor(args), args);
        Outcome whole = run(Ptlab.commandLine(), args);
        assertEquals(whole, partial, () -> "ptlab " + String.join(" ", args));
    }

    /** Every command path of the whole tree: ["explore"], ["trace", "replay"], ... */
    private static List<List<String>> commandPaths(CommandLine c, List<String> prefix, List<List<String>> into) {
        for (var e : c.getSubcommands().entrySet()) {
            List<String> path = new ArrayList<>(prefix);
            path.add(e.getKey());
            into.add(path);
            commandPaths(e.getValue(), path, into);
        }
        return into;
    }

    @Test
    void everyCommandsHelpIsTheSameOnThePartialTree() {
        List<List<String>> paths = commandPaths(Ptlab.commandLine(), List.of(), new ArrayList<>());
        assertTrue(paths.size() >= Ptlab.SUBCOMMANDS.size(), "paths " + paths);
        for (List<String> path : paths) {
            List<String> args = new ArrayList<>(path);
            args.add("--help");
            assertSameOnBothTrees(args.toArray(String[]::new));
        }
    }

    @Test
    void aNamedCommandGetsOnlyItsOwnSubtree() {
        CommandLine explore = Ptlab.commandLineFor(new String[] {"explore", "--list"});
        assertEquals(List.of("explore"), List.copyOf(explore.getSubcommands().keySet()));
        CommandLine trace = Ptlab.commandLineFor(new String[] {"trace", "replay", "x"});
        assertEquals(List.of("trace"), List.copyOf(trace.getSubcommands().keySet()));
        assertTrue(trace.getSubcommands().get("trace").getSubcommands().containsKey("replay"));
        assertEquals(0, Ptlab.commandLineFor(new String[] {"--version"}).getSubcommands().size());
        int all = Ptlab.SUBCOMMANDS.size();
        assertEquals(all, Ptlab.commandLineFor(new String[] {"help", "explore"}).getSubcommands().size());
        assertEquals(all, Ptlab.commandLineFor(new String[] {"explor"}).getSubcommands().size());
        assertEquals(all, Ptlab.commandLineFor(new String[] {}).getSubcommands().size());
        assertEquals(all, Ptlab.commandLineFor(new String[] {"--version", "explore"}).getSubcommands().size());
    }

    @Test
    void versionHelpAndBadCommandLinesAreTheSameOnThePartialTree() {
        assertSameOnBothTrees("--version");
        assertSameOnBothTrees("-V");
        assertSameOnBothTrees("--help");
        assertSameOnBothTrees("help", "explore");
        assertSameOnBothTrees("help", "trace", "replay");
        assertSameOnBothTrees("explor");                                       // did you mean explore?
        assertSameOnBothTrees("explore", "--no-such-option");
        assertSameOnBothTrees("explore", "tlb-stale-after-unmap", "--schedules", "many");
        assertSameOnBothTrees("explore", "no-such-scenario");
        assertSameOnBothTrees("explore", "--version");
        assertSameOnBothTrees("trace", "replay");                              // missing file
        assertSameOnBothTrees("trace", "nope");
        assertSameOnBothTrees("mmu", "probe", "--arch", "x86-99");
        assertSameOnBothTrees("experiment", "vmalloc-sync", "--procs", "-1");
        assertSameOnBothTrees("layout", "--arch", "x86-32-pae", "--debug", "--vmsplit", "5G");
        assertSameOnBothTrees("explore", "--list");
        Outcome typo = run(Ptlab.commandLineFor(new String[] {"explor"}), "explor");
        assertEquals(Ptlab.EXIT_BAD_INPUT, typo.code());
        assertTrue(typo.err().contains("did you mean explore"), typo.err());
    }
}
