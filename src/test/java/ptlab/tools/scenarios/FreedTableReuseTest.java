package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import ptlab.check.Invariants;
import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.hw.PteBits;

/**
 * Invariant 2 stays sharp across frame reuse (issue 10). CPU1 unlinks the pte table under
 * CPU0's address, frees it without waiting for walkers (pte_free instead of tlb_remove_table
 * after a flush), and the frame is reused at once as a data page whose first word happens to
 * look like a present pte. CPU0's walker, which read the pmd entry before the unlink, goes on
 * into the frame: a walk in a freed page-table page. By construction, "is the frame free?" is
 * false at that read (it was reused), so the checker before generations saw nothing — shown by
 * running the same search with generations off; with them the walker's remembered generation
 * of the table no longer matches and the read is reported.
 */
class FreedTableReuseTest {

    /** What the reused frame holds at the entry CPU0's walk reads: "present, user, writable" to 0x30000. */
    static final long LOOKS_LIKE_A_PTE = 0x30000 | PteBits.P | PteBits.RW | PteBits.US;

    static Scenario scenario(boolean generations) {
        return ptlab.engine.MachineTestAccess.scenario("freed-table-reuse", () -> {
            X86Kit kit = new X86Kit(new Invariants(generations, true));
            Machine m = kit.machine;
            m.addCpu(X86Kit.registers(), cpu -> cpu.userRead(X86Kit.VA));
            m.addCpu(X86Kit.registers(), cpu -> {
                kit.memory.storeLong(X86Kit.entry(X86Kit.PMD, X86Kit.VA, 2), 0);   // pmd_clear: unlink the table
                m.freePageTable(cpu, X86Kit.PTE);                                    // pte_free: no wait for walkers
                m.reuseFrame(cpu, X86Kit.PTE);                                       // the allocator hands it out again
                kit.memory.storeLong(X86Kit.entry(X86Kit.PTE, X86Kit.VA, 1), LOOKS_LIKE_A_PTE);  // as a data page
            });
            return m;
        });
    }

    /**
     * The interleaving, by construction: CPU0 starts, its walker reads the pgd, pud and pmd
     * entries (each a scheduling point), and before it reads the pte CPU1 runs to its end: unlink,
     * free, reuse, the data store. Then CPU0's walker reads the frame.
     */
    static final int[] MID_WALK = {0, 0, 0, 0, 1};

    @Test
    void aWalkIntoAFreedAndReusedTableIsCaught() {
        Machine m = Explorer.replay(scenario(true), null, MID_WALK, Explorer.DEFAULT_MAX_STEPS, null);
        assertNotNull(m.violation(), "the walk into the reused frame is reported");
        assertEquals(2, m.violation().invariant());
        assertTrue(m.violation().message().contains("reached through the entry above")
                && m.violation().message().contains("already reused"), m.violation().message());
        // the search finds a use of the freed table too (this one, or CPU0's cache at the free)
        Explorer.Summary s = Explorer.explore(scenario(true), null, Explorer.Settings.of("exhaustive", 0, 10_000, 2),
                () -> false, null);
        assertNotNull(s.violation());
        assertEquals(2, s.violation().invariant());
    }

    @Test
    void withoutGenerationsTheSameInterleavingPasses() {
        Machine m = Explorer.replay(scenario(false), null, MID_WALK, Explorer.DEFAULT_MAX_STEPS, null);
        assertNull(m.violation(), () -> m.violation().describe());
        assertTrue(m.checkRuns(2) > 0, "invariant 2's free-frame check ran at the walker's reads: blind, not absent");
        // CPU0 really walked into the reused frame: its translation used the data as a pte
        assertEquals(0x30000, m.cpu(0).lastWalk().pa & ~0xFFFL, "CPU0 translated through the junk entry");
    }

    @Test
    void aFreeWithoutReuseIsStillCaughtByTheFreeFrameCheck() {
        // the case the checker always caught: the frame is still free when the walker reads it
        Scenario sc = ptlab.engine.MachineTestAccess.scenario("freed-table", () -> {
            X86Kit kit = new X86Kit(new Invariants(false, true));
            Machine m = kit.machine;
            m.addCpu(X86Kit.registers(), cpu -> cpu.userRead(X86Kit.VA));
            m.addCpu(X86Kit.registers(), cpu -> {
                kit.memory.storeLong(X86Kit.entry(X86Kit.PMD, X86Kit.VA, 2), 0);
                m.freePageTable(cpu, X86Kit.PTE);
            });
            return m;
        });
        Machine m = Explorer.replay(sc, null, MID_WALK, Explorer.DEFAULT_MAX_STEPS, null);
        assertNotNull(m.violation());
        assertTrue(m.violation().message().contains("after it was freed"), m.violation().message());
    }
}
