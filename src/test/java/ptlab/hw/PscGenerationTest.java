package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
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
        /** Frames start at generation 0, or (perFrame) each at its own, 1000 + pfn. */
        final boolean perFrame;

        Gens() {
            this(false);
        }

        Gens(boolean perFrame) {
            this.perFrame = perFrame;
        }

        @Override
        public long generation(long pa) {
            long frame = pa & ~0xFFFL;
            return gen.getOrDefault(frame, 0L) + (perFrame ? 1000 + (frame >>> 12) : 0);
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

    /** An MMU as the test above builds it, in 4-level paging: pages at VA, VA+4 KiB, VA+8 KiB and FAR_VA; the checked path. */
    private static Mmu fourLevelMmu() {
        PhysicalMemory memory = new PhysicalMemory(64L << 20);
        PageTableBuilder pt = new PageTableBuilder(PagingMode.X86_64, memory, 0x10_0000);
        for (int i = 0; i < 3; i++) {
            pt.map(VA + i * 4096L, 0x20_0000 + i * 4096L, 1, USER_RW);
        }
        pt.map(FAR_VA, 0x30_0000, 1, USER_RW);   // another pml4 entry: no PSC entry of VA's serves it
        Mmu mmu = new Mmu(memory, new CpuRegisters(PagingMode.X86_64), TlbConfig.DEFAULT);
        assertTrue(mmu.writeCr3(pt.root));
        memory.setAccessHook((op, pa) -> { });
        return mmu;
    }

    private static final long VA = 0x7f00_1234_5000L, FAR_VA = 0x1000_0000_0000L;

    /**
     * The generation a PSC entry gave applies to the walk that started from it only: a later
     * walk from CR3 (a PSC miss) checks its root against nothing, whatever that generation was.
     */
    @Test
    void aWalkFromCr3AfterAPscHitComparesItsRootWithNothing() {
        Mmu mmu = fourLevelMmu();
        Gens gens = new Gens(true);   // every table at its own generation
        mmu.setFrameGenerations(gens);
        WalkResult out = new WalkResult();

        assertTrue(mmu.translate(VA, AccessType.READ, true, false, out));          // fills the PSCs
        assertTrue(mmu.translate(VA + 4096, AccessType.READ, true, false, out));   // PSC hit: starts at the pte table's generation
        assertEquals(1, mmu.pscHits());
        assertTrue(mmu.translate(FAR_VA, AccessType.READ, true, false, out));      // PSC miss: a walk from CR3
        assertEquals(1, mmu.pscHits());
        assertTrue(gens.stale.isEmpty(), "no table was freed");
    }

    /**
     * Another checker counts generations its own way: the PSC entries forget what they recorded
     * under the previous one (else a hit could look stale); the same checker installed again
     * keeps them, and a table freed since is still reported.
     */
    @Test
    void aNewCheckerForgetsThePscEntriesGenerationsTheSameOneKeepsThem() {
        Mmu mmu = fourLevelMmu();
        Gens first = new Gens();
        mmu.setFrameGenerations(first);
        WalkResult out = new WalkResult();
        assertTrue(mmu.translate(VA, AccessType.READ, true, false, out));   // PSC entries at generation 0
        long pteTable = mmu.walker().walkedTable(1);

        mmu.setFrameGenerations(first);                                     // the same checker: entries kept
        first.bump(pteTable);                                               // freed since the fill
        assertTrue(mmu.translate(VA + 4096, AccessType.READ, true, false, out));
        assertEquals(1, mmu.pscHits());
        assertEquals(1, first.stale.size(), "the walk into the freed pte table");

        Gens second = new Gens();
        second.bump(pteTable);                                              // its own count for that frame: 1
        mmu.setFrameGenerations(second);
        assertTrue(mmu.translate(VA + 8192, AccessType.READ, true, false, out));
        assertEquals(2, mmu.pscHits());
        assertTrue(second.stale.isEmpty(), "generation 0 was the first checker's count");
    }
}
