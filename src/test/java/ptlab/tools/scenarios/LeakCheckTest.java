package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import ptlab.engine.Explorer;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.Strategies;
import ptlab.hw.PagingMode;
import ptlab.kernel.KernelVariant;
import ptlab.tools.Scenarios;

/**
 * Invariant 6 at the end of every kernel-level schedule: whatever was allocated since boot and
 * is still allocated is owned by a surviving mm (check.Leaks). It runs once in every schedule of
 * every registered scenario on a kernel, and catches a kernel path that drops a page without
 * freeing it.
 */
class LeakCheckTest {

    @Test
    void theLeakCheckRunsOnceAtTheEndOfEverySchedulOfEveryKernelScenario() {
        int kernelMachines = 0;
        StringBuilder problems = new StringBuilder();
        for (Scenario sc : Scenarios.all()) {
            for (Scenario.Variant v : sc.variants()) {
                for (int i = 0; i < 3; i++) {
                    Machine m = sc.build(v.name());
                    if (m.kernel() == null) {
                        break;
                    }
                    Strategies.Random random = new Strategies.Random();
                    random.reset(Strategies.scheduleSeed(7, i));
                    Machine.Outcome o = m.run(random, new int[Explorer.DEFAULT_MAX_STEPS], Explorer.DEFAULT_MAX_STEPS);
                    if (o != Machine.Outcome.DONE) {
                        continue;   // a broken variant's violation ended the run before its end
                    }
                    kernelMachines++;
                    long leakChecks = ((ptlab.check.Invariants) m.checker()).leakChecks();
                    if (leakChecks != 1) {
                        problems.append(String.format("%n%s %s schedule %d: %d leak checks", sc.name(), v.name(), i,
                                leakChecks));
                    }
                }
            }
        }
        assertTrue(kernelMachines > 60, "kernel-level schedules that ran to their end: " + kernelMachines);
        assertTrue(problems.isEmpty(), problems.toString());
    }

    /** CPU1 zaps CPU0's pte and flushes, but never drops the page (no put_page): the page is leaked. */
    static Scenario leakingZap() {
        return ptlab.engine.MachineTestAccess.scenario("leaking-zap", () -> {
            KernelKit kit = new KernelKit(1, KernelVariant.CORRECT, PagingMode.X86_64);
            KernelBridge.watchUserRange(kit.machine, kit.va, 4096);
            kit.cpu(0, cpu -> KernelBridge.userAccess(cpu, false, kit.va, 0));
            kit.cpu(1, cpu -> {
                int[] level = new int[1];
                long ptep = kit.kernel.pgtable().walk(kit.user.mm(), kit.va, level);
                kit.kernel.pgtable().set(ptep, 0);                                   // ptep_clear
                kit.kernel.tlb().flush_tlb_page(kit.kernel.cpu(1), kit.user.mm(), kit.va);
                // the bug: no put_page(page) (free_page_and_swap_cache)
            });
            return kit.machine;
        });
    }

    @Test
    void aPageDroppedWithoutItsFreeIsCaughtAtTheEnd() {
        Machine m = Explorer.replay(leakingZap(), null, new int[0], Explorer.DEFAULT_MAX_STEPS, null);
        assertNotNull(m.violation(), "the leaked page is reported");
        assertEquals(6, m.violation().invariant());
        assertTrue(m.violation().message().contains("USER") && m.violation().message().contains("leaked"),
                m.violation().message());
        Explorer.Summary s = Explorer.explore(leakingZap(), null, Explorer.Settings.of("random", 1, 20, 0),
                () -> false, null);
        assertNotNull(s.violation());
        assertEquals(6, s.violation().invariant());
    }

    /** CPU1 allocates a pte table for CPU0's process and never links or frees it (mail 004's leaked table). */
    static Scenario leakingTable(PagingMode mode) {
        return ptlab.engine.MachineTestAccess.scenario("leaking-table", () -> {
            KernelKit kit = new KernelKit(1, KernelVariant.CORRECT, mode);
            kit.cpu(0, cpu -> KernelBridge.userAccess(cpu, false, kit.va, 0));
            kit.cpu(1, cpu -> kit.kernel.allocator().allocPageTable(0, 1));
            return kit.machine;
        });
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(value = PagingMode.class, names = {"X86_64", "X86_32", "X86_32_PAE",
            "X86_64_LA57"})
    void aPageTableNoMmOwnsIsCaughtInEveryMode(PagingMode mode) {
        Machine m = Explorer.replay(leakingTable(mode), null, new int[0], Explorer.DEFAULT_MAX_STEPS, null);
        assertNotNull(m.violation(), "the unlinked table is reported");
        assertEquals(6, m.violation().invariant());
        assertTrue(m.violation().message().contains("1 frame(s)") && m.violation().message().contains("PAGE_TABLE level 1"),
                m.violation().message());
    }
}
