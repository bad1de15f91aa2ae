package ptlab.kernel.vmalloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Task;

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

    /**
     * catchUp() (switch-check's switch_mm) copies every entry populated since the mm's count,
     * exactly up to the generation even when the list is full to its capacity, and says how
     * many it copied; a second catch-up has nothing to copy.
     */
    @Test
    void anMmCatchesUpOnEveryEntryPopulatedSinceItsCount() {
        LazyFault s = new LazyFault();
        Kernel k = VmallocTest.kernel(PagingMode.X86_64, s);
        KernelMappingSync sync = new Vmalloc(k, s).sync();
        MmStruct mm = k.createProcess().mm();
        long base = k.layout().vmallocStart();
        int n = 64;                                          // the list's initial capacity, exactly
        for (int i = 0; i < n; i++) {
            assertEquals(1, sync.preallocate(base + i * sync.span()));
        }
        assertEquals(0, sync.preallocate(base), "already populated");
        assertEquals(n, sync.generation());
        assertEquals(n, sync.catchUp(mm));
        assertEquals(n, mm.kernelSyncGen);
        for (int i = 0; i < n; i++) {
            assertTrue(sync.inSync(mm, base + i * sync.span()));
        }
        assertEquals(0, sync.catchUp(mm));
        assertEquals(n, sync.entriesCopied());
    }

    /** eager-generation walks pgd_list once per newly populated entry, and not at all when nothing new was populated. */
    @Test
    void eagerGenerationWalksOncePerNewEntryOnly() {
        EagerGeneration s = new EagerGeneration();
        Kernel k = VmallocTest.kernel(PagingMode.X86_64, s);
        Vmalloc v = new Vmalloc(k, s);
        Task t = k.createProcess();
        KernelMappingSync sync = v.sync();
        long va = v.vmalloc(k.cpu(0), 4096);
        assertEquals(1, sync.generation());
        assertEquals(1, sync.listWalks(), "one walk, for the one new entry");
        assertEquals(1, sync.fullSyncs());
        assertTrue(sync.inSync(t.mm(), va));
        v.vmalloc(k.cpu(0), 4096);
        assertEquals(1, sync.listWalks(), "the same entry: no walk");
        assertEquals(1, sync.fullSyncs());
        sync.syncGenerations(0);
        assertEquals(2, sync.listWalks(), "a resync from 0 walks the one populated entry, no further");
        assertEquals(2, sync.fullSyncs());
    }
}
