package ptlab.kernel.vmalloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import ptlab.hw.PagingMode;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;

/**
 * The paths of mm/vmalloc.c and mm/ioremap.c that the happy-path tests of {@link VmallocTest}
 * leave alone (Linux v6.6): unmapping a whole multi-page area and nothing next to it, the
 * -ENOMEM unwinding of vmalloc, vmap and ioremap when a page table cannot be allocated half way
 * through the range, the NUMA node pages and tables come from, get_vm_area_caller's alignment
 * for a huge ioremap, and vmap_try_huge_pmd inside an unaligned range.
 */
class VmallocPathsTest {

    private static final long PAGE = 4096;
    private static final long PMD_SIZE = 2L << 20;

    private static Kernel kernel(VmallocSyncStrategy s) {
        return new Kernel(PagingMode.X86_64, s.configure(PagingMode.X86_64, KernelConfig.defaults().withRam(256L << 20)));
    }

    /** Takes every free frame, then gives {@code frames} back: the allocations after this get exactly that many. */
    private static List<Long> leaveFree(Kernel k, int frames) {
        List<Long> hog = new ArrayList<>();
        for (long f; (f = k.allocator().allocFrame(0, FrameUse.KERNEL)) >= 0; ) {
            hog.add(f);
        }
        for (int i = 0; i < frames; i++) {
            k.allocator().freeFrame(hog.remove(hog.size() - 1));
        }
        return hog;
    }

    private static void assertUnmapped(Kernel k, long va, long pages, String what) {
        for (long i = 0; i < pages; i++) {
            assertEquals(-1, k.lookup(k.initMm(), va + i * PAGE), what + ": page " + i + " still mapped");
        }
    }

    @Test
    void theLayerRunsTheStrategyItWasGiven() {
        Preallocate s = new Preallocate();
        assertSame(s, new Vmalloc(kernel(s), s).strategy());
    }

    /** vmalloc(0): __vmalloc_node_range() returns NULL for a zero size; ptlab refuses it as a caller bug. */
    @Test
    void aVmallocOfZeroBytesIsRefused() {
        Kernel k = kernel(new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> v.vmalloc(k.cpu(0), 0));
        assertEquals("vmalloc size must be positive, got 0", e.getMessage());
    }

    /**
     * vunmap_range_noflush() over the whole area: vfree, vunmap and iounmap clear every page of a
     * multi-page area, and not the page of the area right after it (the guard page between them
     * is all that separates them).
     */
    @Test
    void vfreeVunmapAndIounmapClearEveryPageOfTheAreaAndNothingAfterIt() {
        Kernel k = kernel(new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        long[] frames = {k.allocator().allocFrame(0, FrameUse.KERNEL), k.allocator().allocFrame(0, FrameUse.KERNEL),
            k.allocator().allocFrame(0, FrameUse.KERNEL)};
        long a = v.vmalloc(k.cpu(0), 3 * PAGE);
        long b = v.vmap(k.cpu(0), frames);
        long c = v.ioremap(k.cpu(0), 0xFED0_0000L, 3 * PAGE);
        long after = v.vmalloc(k.cpu(0), PAGE);
        long afterFrame = v.find(after).pages()[0];
        assertEquals(a + 4 * PAGE, b, "areas follow each other, one guard page apart");
        assertEquals(frames[2], k.lookup(k.initMm(), b + 2 * PAGE));
        assertEquals(0xFED0_2000L, k.lookup(k.initMm(), c + 2 * PAGE));
        v.vfree(k.cpu(0), a);
        assertUnmapped(k, a, 3, "vfree");
        v.vunmap(k.cpu(0), b);
        assertUnmapped(k, b, 3, "vunmap");
        v.iounmap(k.cpu(0), c);
        assertUnmapped(k, c, 3, "iounmap");
        assertEquals(afterFrame, k.lookup(k.initMm(), after), "the next area stays mapped");
    }

    /**
     * vmap_pages_range() failing with -ENOMEM on the second pte table of a 513-page vmalloc: the
     * 512 pages mapped under the first table are unmapped again (__vmalloc_area_node's "fail:
     * vfree(area->addr)"), every page goes back, the failure is counted.
     */
    @Test
    void aVmallocThatFailsOnItsSecondPteTableUnmapsThe512PagesItMapped() {
        Kernel k = kernel(new LazyFault());
        Vmalloc v = new Vmalloc(k, new LazyFault());
        long start = v.areas().start();
        assertEquals(0, start & (PMD_SIZE - 1), "the area starts on a pmd boundary: page 513 needs a second pte table");
        leaveFree(k, 513 + 3);                              // the pages, the pud, the pmd, one pte table
        long kernelFrames = k.allocator().inUse(FrameUse.KERNEL);
        assertEquals(0, v.vmalloc(k.cpu(0), 513 * PAGE));
        assertEquals(1, v.allocFailures());
        assertUnmapped(k, start, 513, "after the failed vmalloc");
        assertEquals(kernelFrames, k.allocator().inUse(FrameUse.KERNEL), "every page went back");
        assertEquals(0, v.areas().busyAreas());
        assertEquals(0, v.liveAreas());
    }

    /** The same -ENOMEM on the second pte table for vmap(): unmapped, range freed, frames left to the caller. */
    @Test
    void aVmapThatFailsOnItsSecondPteTableUnmapsWhatItMapped() {
        Kernel k = kernel(new LazyFault());
        Vmalloc v = new Vmalloc(k, new LazyFault());
        long[] frames = new long[513];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = k.allocator().allocFrame(0, FrameUse.KERNEL);
        }
        leaveFree(k, 3);                                    // the pud, the pmd, one pte table
        long start = v.areas().start();
        assertEquals(0, v.vmap(k.cpu(0), frames));
        assertEquals(1, v.allocFailures());
        assertUnmapped(k, start, 513, "after the failed vmap");
        assertEquals(0, v.areas().busyAreas());
        assertEquals(1, v.areas().lazyAreas(), "the range is freed lazily");
        assertEquals(FrameUse.KERNEL, k.allocator().useOf(frames[0]), "the frames stay the caller's");
    }

    /** ioremap_page_range() failing on its second pte table (an unaligned range: no pmd leaf): unmapped, counted. */
    @Test
    void anIoremapThatFailsOnItsSecondPteTableUnmapsWhatItMapped() {
        Kernel k = kernel(new LazyFault());
        Vmalloc v = new Vmalloc(k, new LazyFault());
        leaveFree(k, 3);
        long start = v.areas().start();
        assertEquals(0, v.ioremap(k.cpu(0), (1L << 40) + PAGE, PMD_SIZE + PAGE));
        assertEquals(1, v.allocFailures());
        assertEquals(0, v.hugeMappings());
        assertUnmapped(k, start, 513, "after the failed ioremap");
        assertEquals(0, v.liveAreas());
    }

    /** alloc_vmap_area() finding no room: vmap fails before mapping anything and counts it. */
    @Test
    void aVmapLargerThanTheVmallocSpaceFails() {
        SharedTop s = new SharedTop();
        Kernel k = new Kernel(PagingMode.X86_32, s.configure(PagingMode.X86_32, KernelConfig.defaults().withRam(256L << 20)));
        Vmalloc v = new Vmalloc(k, s);
        assertEquals(4L << 20, v.areas().end() - v.areas().start());
        long[] frames = new long[1024];                     // 4 MiB + its guard page: one page too many
        for (int i = 0; i < frames.length; i++) {
            frames[i] = k.allocator().allocFrame(0, FrameUse.KERNEL);
        }
        long tables = k.allocator().inUse(FrameUse.PAGE_TABLE);
        assertEquals(0, v.vmap(k.cpu(0), frames));
        assertEquals(1, v.allocFailures());
        assertEquals(0, v.pagesMapped());
        assertEquals(tables, k.allocator().inUse(FrameUse.PAGE_TABLE));
    }

    /**
     * __vmalloc_node_range(..., node = numa_node_id()): the pages and the page tables of a
     * vmalloc on a CPU of node 1 come from node 1 (node 0 keeps every frame), and so do the
     * tables populateOutsideVmalloc() allocates for a mapping made on that CPU.
     */
    @Test
    void vmallocTakesPagesAndTablesFromTheCallingCpusNode() {
        LazyFault s = new LazyFault();
        Kernel k = new Kernel(PagingMode.X86_64, s.configure(PagingMode.X86_64,
                KernelConfig.defaults().withRam(256L << 20).withNodes(2).withCpus(2)));
        Vmalloc v = new Vmalloc(k, s);
        assertEquals(1, k.cpu(1).node());
        long node0 = k.allocator().freeFrames(0);
        long node1 = k.allocator().freeFrames(1);
        assertNotEquals(0, v.vmalloc(k.cpu(1), PAGE));
        assertEquals(node0, k.allocator().freeFrames(0), "nothing from node 0");
        assertEquals(node1 - 4, k.allocator().freeFrames(1), "the page, the pud, the pmd and the pte table");
        long page = k.allocator().allocFrame(1, FrameUse.KERNEL);
        long far = v.areas().start() + (1L << 39);          // the next p4d entry: three new tables
        int mask = v.populateOutsideVmalloc(k.cpu(1), far, new long[] {page});
        assertNotEquals(-1, mask);
        assertEquals(node0, k.allocator().freeFrames(0), "populateOutsideVmalloc's tables: node 1 too");
        assertEquals(node1 - 4 - 1 - 3, k.allocator().freeFrames(1));
    }

    /** vmemmap_populate()-style mapping of several pages: each page at its place, nothing past the last. */
    @Test
    void populateOutsideVmallocMapsEveryPage() {
        Kernel k = kernel(new BrokenNoSync());
        Vmalloc v = new Vmalloc(k, new BrokenNoSync());
        long[] pages = new long[3];
        for (int i = 0; i < pages.length; i++) {
            pages[i] = k.allocator().allocFrame(0, FrameUse.KERNEL);
        }
        long va = v.areas().start() + (16L << 20);
        v.populateOutsideVmalloc(k.cpu(0), va, pages);
        for (int i = 0; i < pages.length; i++) {
            assertEquals(pages[i], k.lookup(k.initMm(), va + i * PAGE));
        }
        assertEquals(-1, k.lookup(k.initMm(), va + 3 * PAGE));
        assertEquals(-1, k.lookup(k.initMm(), va - PAGE));
    }

    /**
     * ioremap of exactly 2 MiB at a physical address that is an odd multiple of 2 MiB:
     * get_vm_area_caller() aligns the virtual range to 2 MiB (IOREMAP_MAX_ORDER), even when the
     * next free address is not, so vmap_try_huge_pmd() maps it with one pmd leaf.
     */
    @Test
    void anIoremapOfExactlyOnePmdIsAlignedForAPmdLeaf() {
        Kernel k = kernel(new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        v.vmalloc(k.cpu(0), PAGE);                          // the next free address is start + 8 KiB
        long phys = (1L << 40) + PMD_SIZE;
        long va = v.ioremap(k.cpu(0), phys, PMD_SIZE);
        assertEquals(0, va & (PMD_SIZE - 1), "aligned for a pmd leaf");
        assertEquals(1, v.hugeMappings());
        assertEquals(phys + PMD_SIZE - 1, k.lookup(k.initMm(), va + PMD_SIZE - 1));
    }

    /**
     * An ioremap whose physical start is not 2 MiB aligned gets a page-aligned range; where its
     * virtual and physical addresses line up (phys ≡ va mod 2 MiB) a whole pmd inside it is still
     * one pmd leaf (vmap_try_huge_pmd checks addr, end and phys_addr of each pmd, not of the
     * range), and the pages either side of it are 4 KiB ptes.
     */
    @Test
    void anUnalignedIoremapStillUsesAPmdLeafWhereAddressesLineUp() {
        Kernel k = kernel(new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        long start = v.vmalloc(k.cpu(0), PAGE);
        long phys = (1L << 40) + 2 * PAGE;                  // ≡ the next free address, start + 8 KiB
        long va = v.ioremap(k.cpu(0), phys, 2 * PMD_SIZE);
        assertEquals(start + 2 * PAGE, va);
        assertEquals(1, v.hugeMappings(), "[start + 2 MiB, start + 4 MiB) is one pmd leaf");
        int[] level = new int[1];
        k.pgtable().walk(k.initMm(), start + PMD_SIZE, level);
        assertEquals(ptlab.kernel.Pgtable.PMD, level[0]);
        for (long off : new long[] {0, PMD_SIZE - 2 * PAGE, PMD_SIZE, 2 * PMD_SIZE - PAGE}) {
            assertEquals(phys + off + 5, k.lookup(k.initMm(), va + off + 5));
        }
    }

    /**
     * ioremap keeps the offset of an unaligned physical address within its page: the mapping
     * starts at the page holding {@code phys}, also when twice the offset would cross into the
     * next page.
     */
    @Test
    void anIoremapInTheSecondHalfOfAPageMapsThatPage() {
        Kernel k = kernel(new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        long phys = 0xFED0_0900L;
        long va = v.ioremap(k.cpu(0), phys, 0x100);
        assertEquals(0x900, va & 0xFFF);
        assertEquals(phys, k.lookup(k.initMm(), va));
        assertEquals(PAGE, v.find(va & -PAGE).size());
    }
}
