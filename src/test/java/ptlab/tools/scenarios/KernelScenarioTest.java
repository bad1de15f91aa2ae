package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ptlab.tools.scenarios.ScenarioExploreTest.explore;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.engine.Schedule;
import ptlab.engine.TraceRecorder;
import ptlab.tools.Scenarios;

/**
 * The three scenarios of issue #5 at kernel level: the kernel layer's own munmap, mprotect,
 * mmu_gather, flush_tlb_mm_range and fault handler on two simulated CPUs. With fixed seeds,
 * each broken kernel is caught with the invariant it breaks, and each correct one passes an
 * exhaustive search of 2 CPUs (preemption bound 2) and random/pct sampling.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class KernelScenarioTest {

    @ParameterizedTest(name = "{0} {1} with {2} finds invariant {3}")
    @CsvSource({
            "tlb-stale-after-unmap, munmap-local-flush,       random,     3, 'TLB still maps'",
            "tlb-stale-after-unmap, munmap-local-flush,       exhaustive, 3, 'TLB still maps'",
            "pte-clear-vs-dirty,    mprotect-plain-clear,     random,     1, 'without D'",
            "pte-clear-vs-dirty,    mprotect-plain-clear,     pct,        1, 'without D'",
            "pte-clear-vs-dirty,    mprotect-plain-clear,     exhaustive, 1, 'without D'",
            "free-pgtables-vs-walk, munmap-free-before-flush, random,     2, 'page-table page'",
            "free-pgtables-vs-walk, munmap-free-before-flush, exhaustive, 2, 'page-table page'",
    })
    void brokenKernelIsCaught(String scenario, String variant, String strategy, int invariant, String words) {
        Explorer.Summary s = explore(scenario, variant, strategy, 42, 5_000, strategy.equals("pct") ? 3 : 2);
        assertNotNull(s.violation(), "no violation found in " + s.schedules() + " schedules");
        assertEquals(invariant, s.violation().invariant(), s.violation().describe());
        assertTrue(s.violation().message().contains(words), s.violation().message());
        assertTrue(s.violation().message().contains("CPU"), s.violation().message());
    }

    @ParameterizedTest(name = "{0} {1}: exhaustive search of 2 CPUs finds nothing")
    @CsvSource({
            "tlb-stale-after-unmap, munmap-shootdown",
            "pte-clear-vs-dirty,    mprotect-xchg",
            "free-pgtables-vs-walk, munmap-mmu-gather",
    })
    void correctKernelPassesExhaustively(String scenario, String variant) {
        Explorer.Summary s = explore(scenario, variant, "exhaustive", 0, 1_000_000, 2);
        assertNull(s.violation(), () -> s.violation().describe());
        assertTrue(s.exhausted(), "search did not complete");
        assertTrue(s.schedules() > 10, "too few interleavings: " + s.schedules());
        Explorer.Summary r = explore(scenario, variant, "random", 7, 500, 0);
        assertNull(r.violation(), () -> r.violation().describe());
        Explorer.Summary p = explore(scenario, variant, "pct", 7, 500, 3);
        assertNull(p.violation(), () -> p.violation().describe());
    }

    /**
     * A saved schedule of each broken kernel replays to the same violation, and the trace shows
     * the race in decoded entries: the lost D (walker CAS, then the plain store), the stale TLB
     * entry left by a local-only flush, the page-table page freed before the IPI.
     */
    @ParameterizedTest(name = "{0} {1}: replay reproduces the violation")
    @CsvSource(delimiter = '|', value = {
            "pte-clear-vs-dirty    | mprotect-plain-clear     | walk-cas    pte 0x | [P RW US A D NX] -> 0x0 [np]",
            "tlb-stale-after-unmap | munmap-local-flush       | mmap_lock for write | frees page 0x",
            "free-pgtables-vs-walk | munmap-free-before-flush | store       pmd 0x | frees pte page 0x",
    })
    void replayReproducesTheViolation(String scenario, String variant, String first, String then, @TempDir Path dir)
            throws Exception {
        Explorer.Summary s = explore(scenario, variant, "random", 3, 5_000, 0);
        assertNotNull(s.violation());
        Path f = dir.resolve("s.json");
        s.schedule().save(f);
        Schedule loaded = Schedule.load(f);
        TraceRecorder trace = new TraceRecorder();
        Machine m = Explorer.replay(Scenarios.byName(loaded.scenario()), loaded.variant(), loaded.choices(),
                Explorer.DEFAULT_MAX_STEPS, trace);
        assertEquals(s.violation(), m.violation());
        assertEquals(loaded.violation(), m.violation().describe());
        StringBuilder sb = new StringBuilder();
        trace.lines().forEach(l -> sb.append(l.format()).append('\n'));
        String t = sb.toString();
        int a = t.indexOf(first);
        int b = t.indexOf(then, Math.max(a, 0));
        assertTrue(a >= 0 && b > a, "expected '" + first + "' then '" + then + "' in\n" + t);
    }
}
