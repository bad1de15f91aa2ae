package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;

/**
 * The kernel's own pte writes (the anonymous fault, fork's copy, mprotect's commit) go through
 * set_pte_at, which on PAE is native_set_pte: the high half, smp_wmb, then the low half holding
 * P (Linux v6.6 arch/x86/include/asm/pgtable-3level.h). Elsewhere a pte is one store. A copier
 * reading a PAE pte in two halves without the pte lock can therefore see a torn entry whatever
 * kernel path wrote it, not only the relocation scenario's mapper.
 */
class PaeSetPteTest {

    /** The physical addresses of the stores made while {@code body} runs, in order. */
    private static List<Long> storesDuring(Kernel k, Runnable body) {
        PhysicalMemory mem = k.memory();
        assertNull(mem.accessHook(), "a standalone kernel has no scheduler hook");
        List<Long> stores = new ArrayList<>();
        mem.setAccessHook((op, pa) -> {
            if (op == PhysicalMemory.OP_STORE) {
                stores.add(pa);
            }
        });
        try {
            body.run();
        } finally {
            mem.setAccessHook(null);
        }
        return stores;
    }

    private static void assertWrittenAsTheModeWrites(PagingMode mode, List<Long> stores, long ptep, String what) {
        int low = stores.lastIndexOf(ptep);
        assertTrue(low >= 0, what + ": the pte at 0x" + Long.toHexString(ptep) + " was stored");
        int high = stores.lastIndexOf(ptep + 4);
        if (mode.isPae()) {
            assertTrue(high >= 0 && high < low, what + ": on PAE the high half (0x" + Long.toHexString(ptep + 4)
                    + ") is stored before the low half, got stores " + stores);
        } else {
            assertEquals(-1, high, what + ": one store, nothing at 0x" + Long.toHexString(ptep + 4));
        }
    }

    private static long ptep(Kernel k, MmStruct mm, long va) {
        int[] level = new int[1];
        long p = k.pgtable().walk(mm, va, level);
        assertEquals(Pgtable.PTE, level[0], "a 4 KiB mapping");
        return p;
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void anonymousFaultForkAndMprotectWritePtesAsSetPteAt(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20));
        Cpu cpu = k.cpu(0);
        Task parent = k.createProcess();
        k.switchTo(cpu, parent);
        long a = k.mmap(parent, 0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);

        List<Long> fault = storesDuring(k, () -> assertTrue(k.writeUserLong(cpu, a, 42)));
        assertWrittenAsTheModeWrites(mode, fault, ptep(k, parent.mm(), a), "do_anonymous_page");

        Task[] child = new Task[1];
        List<Long> fork = storesDuring(k, () -> child[0] = k.fork(parent));
        assertNotNull(child[0]);
        assertWrittenAsTheModeWrites(mode, fork, ptep(k, child[0].mm(), a), "copy_present_pte");

        List<Long> mprotect = storesDuring(k, () -> assertEquals(0, k.mprotect(parent, a, 4096, PROT_READ)));
        assertWrittenAsTheModeWrites(mode, mprotect, ptep(k, parent.mm(), a), "change_pte_range");

        k.exit(child[0]);
        k.exit(parent);
        k.unlazyAll();
        k.checkNoLeaks();
    }
}
