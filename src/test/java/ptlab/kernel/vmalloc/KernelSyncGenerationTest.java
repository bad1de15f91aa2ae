package ptlab.kernel.vmalloc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;

/**
 * The sync generation of {@link KernelMappingSync}: init_mm's populated sync-level entries in
 * order, which eager-generation and switch-check compare an mm's count against.
 */
class KernelSyncGenerationTest {

    @Test
    void twoCpusThatRacedToPopulateOneEntryAddOneGenerationNotTwo() {
        LazyFault s = new LazyFault();
        Kernel k = VmallocTest.kernel(PagingMode.X86_64, s);
        KernelMappingSync sync = new Vmalloc(k, s).sync();
        int g = sync.generation();
        long span = sync.span();
        long va = k.layout().vmallocStart();
        sync.notePopulated(va);
        sync.notePopulated(va + 4096);   // the loser of the race: the same entry
        assertEquals(g + 1, sync.generation());
        assertEquals(va & -span, sync.populatedEntry(g));
    }

    /** Many entries populated: the generation counts each once, in order, past any initial capacity. */
    @Test
    void everyNewEntryIsOneGenerationInOrder() {
        LazyFault s = new LazyFault();
        Kernel k = VmallocTest.kernel(PagingMode.X86_64, s);
        KernelMappingSync sync = new Vmalloc(k, s).sync();
        int g = sync.generation();
        long span = sync.span();
        long base = k.layout().vmallocStart() & -span;
        int n = 100;
        for (int i = 0; i < n; i++) {
            sync.notePopulated(base + i * span);
            sync.notePopulated(base + i * span);
        }
        assertEquals(g + n, sync.generation());
        for (int i = 0; i < n; i++) {
            assertEquals(base + i * span, sync.populatedEntry(g + i), "entry " + i);
        }
    }
}
