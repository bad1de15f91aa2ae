package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Frame generations in the paging-structure caches (invariant 2 across frame reuse): a PSC
 * entry remembers the generation of the table it points to, as the walk that filled it saw
 * it; a later walk that starts from the entry in a table freed (or reused) since reports it.
 */
class PscGenerationTest {

    private static final long USER_RW = PteBits.P | PteBits.RW | PteBits.US;

    /** A checker's generations, with the stale reads it was told about. */
    private static final class Gens implements FrameGenerations {
        final Map<Long, Long> gen = new HashMap<>();
        final List<long[]> stale = new ArrayList<>();

        @Override
        public long generation(long pa) {
            return gen.getOrDefault(pa & ~0xFFFL, 0L);
        }

        void bump(long frame) {
            gen.merge(frame, 1L, Long::sum);
        }

        @Override
        public void staleTableRead(long table, long seen, long entryAddress, int level, boolean fromCache) {
            stale.add(new long[]{table, seen, level, fromCache ? 1 : 0});
        }
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void aWalkStartingFromAPscEntryInAFreedTableIsReported(PagingMode mode) {
        PhysicalMemory memory = new PhysicalMemory(64L << 20);
        PageTableBuilder pt = new PageTableBuilder(mode, memory, 0x10_0000);
        long va = mode.isLongMode() ? 0x7f00_1234_5000L : 0x0804_9000L;
        for (int i = 0; i < 3; i++) {
            pt.map(va + i * 4096L, 0x20_0000 + i * 4096L, 1, USER_RW);   // three pages, one pte table
        }
        CpuRegisters regs = new CpuRegisters(mode);
        Mmu mmu = new Mmu(memory, regs, TlbConfig.DEFAULT);
        assertTrue(mmu.writeCr3(pt.root));
        memory.setAccessHook((op, pa) -> { });   // as under a machine: walks take the checked path
        Gens gens = new Gens();
        mmu.setFrameGenerations(gens);
        WalkResult out = new WalkResult();

        assertTrue(mmu.translate(va, AccessType.READ, true, false, out));        // fills the PSCs
        long pteTable = mmu.walker().walkedTable(1);
        assertTrue(mmu.translate(va + 4096, AccessType.READ, true, false, out)); // PSC hit, table unchanged
        assertEquals(1, mmu.pscHits());
        assertTrue(gens.stale.isEmpty(), "a live table is not reported");

        gens.bump(pteTable);                                                     // freed (and reused) since
        assertTrue(mmu.translate(va + 8192, AccessType.READ, true, false, out)); // PSC hit into it
        assertEquals(2, mmu.pscHits());
        assertEquals(1, gens.stale.size());
        long[] s = gens.stale.get(0);
        assertEquals(pteTable, s[0]);
        assertEquals(0, s[1], "the generation the filling walk saw");
        assertEquals(1, s[2], "read at the pte level");
        assertEquals(1, s[3], "through a paging-structure-cache entry");
    }
}
