package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A walk in PAE, 4- or 5-level paging finishes the common case itself (PageWalker.leaf64: rights
 * from CpuRegisters' table, A and D already set, the result written) and leaves everything else
 * to the general leaf(). Protection keys on with PKRU = 0 deny nothing, but send every leaf to the
 * general path: a walker in that state must give exactly the result, field by field, and leave
 * exactly the memory, of one without protection keys, on random tables (4 KiB, 2 MiB and 1 GiB
 * pages, random rights, A, D and PAT) and random accesses, from CR3 and from a lower level as a
 * paging-structure-cache hit starts.
 */
class WalkFinishTest {

    private static final int SEEDS = 100;

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void theWalksOwnFinishEqualsTheGeneralLeaf(PagingMode mode) {
        int translated = 0;
        int fromLowerLevel = 0;
        for (int seed = 0; seed < SEEDS; seed++) {
            Setup fast = new Setup(mode, seed, false);
            Setup general = new Setup(mode, seed, true);
            Random rnd = new Random(~seed);
            for (int step = 0; step < 60; step++) {
                long va = fast.vas.get(rnd.nextInt(fast.vas.size())) + (rnd.nextInt(1 << 12) & ~7);
                AccessType access = AccessType.values()[rnd.nextInt(3)];
                boolean user = rnd.nextBoolean();
                boolean implicit = access != AccessType.FETCH && !user && rnd.nextInt(4) == 0;
                String where = String.format("%s seed %d step %d: %s va=0x%x user=%b implicit=%b", mode, seed, step,
                        access, va, user, implicit);
                boolean ok = fast.walker.translate(fast.regs, va, access, user, implicit, fast.out);
                boolean wantOk = general.walker.translate(general.regs, va, access, user, implicit, general.out);
                assertEquals(wantOk, ok, where);
                assertEquals(fields(general.out), fields(fast.out), where);
                if (!ok) {
                    continue;
                }
                translated++;
                // Again from a lower level of the same path, as after a paging-structure-cache hit.
                int top = mode.isPae() ? 2 : mode.levels();
                if (fast.out.leafLevel < top) {
                    int start = fast.out.leafLevel + 1 + rnd.nextInt(top - fast.out.leafLevel);
                    ok = fast.walker.translateFrom(fast.regs, va, access, user, implicit, start,
                            fast.walker.walkedTable(start), fast.walker.restrictionsAbove(start), fast.out);
                    wantOk = general.walker.translateFrom(general.regs, va, access, user, implicit, start,
                            general.walker.walkedTable(start), general.walker.restrictionsAbove(start), general.out);
                    assertEquals(wantOk, ok, where + " from level " + start);
                    assertEquals(fields(general.out), fields(fast.out), where + " from level " + start);
                    fromLowerLevel++;
                }
            }
            for (long pa = general.tables; pa < general.tablesEnd; pa += 8) {
                assertEquals(general.memory.loadLong(pa), fast.memory.loadLong(pa),
                        String.format("%s seed %d: table word at 0x%x", mode, seed, pa));
            }
        }
        // Neither comparison may pass vacuously.
        assertTrue(translated > SEEDS * 5, mode + ": only " + translated + " translations");
        assertTrue(fromLowerLevel > SEEDS, mode + ": only " + fromLowerLevel + " walks from a lower level");
    }

    /** Every field of a result. */
    private static List<Object> fields(WalkResult r) {
        return List.of(r.va, r.exception, r.errorCode, r.faultLevel, r.pa, r.pageShift, r.leafLevel,
                r.leafEntryAddress, r.leafEntry, r.restrictions, r.pkey, r.global, r.memoryRefs, r.restarts);
    }

    /** Random tables and CPU state from {@code seed}; {@code pkeys}: protection keys on, PKRU = 0. */
    private static final class Setup {
        final PhysicalMemory memory = new PhysicalMemory(64L << 20);
        final CpuRegisters regs;
        final PageWalker walker = new PageWalker(memory);
        final WalkResult out = new WalkResult();
        final List<Long> vas = new ArrayList<>();
        final long tables;
        final long tablesEnd;

        Setup(PagingMode mode, long seed, boolean pkeys) {
            Random rnd = new Random(seed);
            PageTableBuilder pt = new PageTableBuilder(mode, memory, 0x10_0000);
            regs = new CpuRegisters(mode);
            regs.setWp(rnd.nextBoolean());
            regs.setNxe(rnd.nextBoolean());
            regs.setSmep(rnd.nextBoolean());
            regs.setSmap(rnd.nextBoolean());
            regs.setAc(rnd.nextBoolean());
            regs.setPke(pkeys);
            regs.setPkru(0);
            for (int i = 0; i < 12; i++) {
                long va = MmuPropertyTest.randomVa(mode, rnd);
                vas.add(va);
                MmuPropertyTest.mapRandomly(pt, mode, va, rnd, true);
            }
            tables = pt.root;
            tablesEnd = pt.tablesEnd();
            regs.setCr3(pt.root);
            if (mode.isPae()) {
                assertTrue(walker.loadPdptes(regs), "PDPTE load");
            }
        }
    }
}
