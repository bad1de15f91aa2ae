package ptlab.study.relocation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.hw.ValidatingHypervisor;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.Pgtable;
import ptlab.tools.Scenarios;

/** The PAE torn entry and the paravirt hook bypass: found when broken, passing when correct, at fixed seeds. */
@org.junit.jupiter.api.Timeout(value = 300, unit = java.util.concurrent.TimeUnit.SECONDS,
        threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class PaeAndParavirtScenarioTest {

    static Explorer.Summary explore(String scenario, String variant, String strategy, long n) {
        return Explorer.explore(Scenarios.byName(scenario), variant,
                Explorer.Settings.of(strategy, 42, n, strategy.equals("pct") ? 3 : 2), () -> false, null);
    }

    @ParameterizedTest(name = "unlocked two-half copy: {0} finds a torn entry")
    @ValueSource(strings = {"random", "pct", "exhaustive"})
    void tornEntryIsFound(String strategy) {
        Explorer.Summary s = explore("pae-torn-entry", "unlocked-halves", strategy, 10_000);
        assertNotNull(s.violation(), "no violation in " + s.schedules());
        assertEquals(PaeTornEntry.INVARIANT, s.violation().invariant());
        if (strategy.equals("exhaustive")) {
            assertTrue(s.violation().message().contains("torn entry, high half 0x80000000"), s.violation().message());
        }
    }

    @Test
    void lockedCopyPassesExhaustively() {
        Explorer.Summary s = explore("pae-torn-entry", "ptl", "exhaustive", 1_000_000);
        assertNull(s.violation(), () -> s.violation().describe());
        assertTrue(s.exhausted());
        assertTrue(s.schedules() > 20, "schedules " + s.schedules());
        assertNull(explore("pae-torn-entry", "ptl", "random", 2000).violation());
    }

    @Test
    void setPteOnPaeWritesTheHighHalfFirst() {
        Kernel k = new Kernel(PagingMode.X86_32_PAE, KernelConfig.defaults().withRam(32L << 20));
        long p = k.allocator().allocPageTable(0, 1);
        long[] order = new long[4];
        int[] n = new int[1];
        k.memory().setAccessHook((op, pa) -> order[n[0]++] = pa);
        k.pgtable().set_pte(p + 8, 0x8000_0000_0001_2067L);
        k.memory().setAccessHook(null);
        assertEquals(2, n[0], "two 32-bit stores");
        assertEquals(p + 12, order[0], "high half first");
        assertEquals(p + 8, order[1], "then the low half, with P");
        assertEquals(0x8000_0000_0001_2067L, k.memory().loadLong(p + 8));
    }

    @ParameterizedTest(name = "bypassing migrator caught by {0}")
    @ValueSource(strings = {"random", "exhaustive"})
    void bypassIsCaughtByTheHypervisor(String strategy) {
        Explorer.Summary s = explore("paravirt-bypass", "bypass", strategy, 10_000);
        assertNotNull(s.violation());
        assertEquals(ParavirtBypass.INVARIANT, s.violation().invariant());
        assertTrue(s.violation().message().contains("pinned level-2 page table"), s.violation().message());
        Machine m = Explorer.replay(Scenarios.byName("paravirt-bypass"), "bypass", new int[0], Explorer.DEFAULT_MAX_STEPS,
                null);
        assertNotNull(m.violation(), "caught on every schedule, the default one too");
    }

    @Test
    void migrationThroughTheHooksPasses() {
        Explorer.Summary s = explore("paravirt-bypass", "hooks", "exhaustive", 1_000_000);
        assertNull(s.violation(), () -> s.violation().describe());
        assertTrue(s.exhausted());
        assertNull(explore("paravirt-bypass", "hooks", "pct", 2000).violation());
    }

    @Test
    void hypervisorRejectsUnpinnedChildrenAndDirectWrites() {
        PhysicalMemory mem = new PhysicalMemory(1 << 20);
        ValidatingHypervisor hv = new ValidatingHypervisor(mem, PagingMode.X86_64);
        StringBuilder log = new StringBuilder();
        hv.setRejections((pa, why) -> log.append(why).append('\n'));
        mem.storeLong(0x2000, 0x3000 | PteBits.P | PteBits.RW);   // pmd entry -> unpinned pte page
        assertEquals(false, hv.pin(0x2000, 2));
        assertTrue(log.toString().contains("not a pinned level-1 table"), log.toString());
        assertTrue(hv.pin(0x3000, 1));
        assertTrue(hv.pin(0x2000, 2));
        mem.storeLong(0x2008, 1);                                  // direct write to a pinned table
        assertTrue(log.toString().contains("direct write to 0x2008"), log.toString());
        assertTrue(hv.mmuUpdate(0x2010, 0x3000 | PteBits.P));
        assertEquals(false, hv.mmuUpdate(0x2018, 0x5000 | PteBits.P));
        assertTrue(mem.compareAndSetLong(0x3000, 0, PteBits.A), "the walker's locked A/D update is hardware's");
        assertEquals(3, hv.rejectedWrites());
        assertEquals(Pgtable.PTE, 1);
    }
}
