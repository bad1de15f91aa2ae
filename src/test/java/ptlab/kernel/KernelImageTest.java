package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;

/**
 * A kernel restored from a {@link KernelImage} is the kernel a boot gives: the same memory,
 * frame allocator (down to the order of its free lists), page-table locks, init_mm and
 * shared-variable locations, before and after the same work — and the work done on one kernel
 * made from an image never shows in the next.
 */
class KernelImageTest {

    private static final KernelConfig SMALL = KernelConfig.defaults().withRam(32L << 20).withCpus(2);

    static Stream<Arguments> boots() {
        List<Arguments> out = new ArrayList<>();
        for (PagingMode mode : PagingMode.values()) {
            out.add(Arguments.of(mode, SMALL));
        }
        out.add(Arguments.of(PagingMode.X86_64, SMALL.withNodes(2).withCpus(4).withThp(true)));
        out.add(Arguments.of(PagingMode.X86_32_PAE, SMALL.withSharedKernelPmd(false)));
        out.add(Arguments.of(PagingMode.X86_64, SMALL.withPcid(true).withGbpages(true).withRam(2L << 30)));
        return out.stream();
    }

    /** Records the name of every shared variable in creation order: their locations. */
    private static final class Locations implements Interleaving {
        final List<String> names = new ArrayList<>();

        @Override
        public long locate(Named variable) {
            names.add(variable.name());
            return names.size() - 1;
        }
    }

    @ParameterizedTest
    @MethodSource("boots")
    void aKernelFromTheImageIsTheKernelABootGives(PagingMode mode, KernelConfig cfg) {
        KernelImage image = KernelImage.boot(mode, cfg, KernelVariant.CORRECT, null);
        Locations freshNames = new Locations();
        Locations restoredNames = new Locations();
        Kernel fresh = new Kernel(mode, cfg, freshNames, KernelVariant.CORRECT, null);
        Kernel restored = new Kernel(image, restoredNames);
        assertSameState(fresh, restored);
        assertEquals(freshNames.names, restoredNames.names, "shared variables made in the same order");
        assertTrue(freshNames.names.size() >= 9, "init_mm's and the CPUs' shared variables: " + freshNames.names);

        work(fresh);
        work(restored);
        assertSameState(fresh, restored);
        assertEquals(freshNames.names, restoredNames.names);

        // the work on `restored` did not reach the image
        assertSameState(new Kernel(mode, cfg, Interleaving.NONE, KernelVariant.CORRECT, null),
                new Kernel(image, Interleaving.NONE));
    }

    @Test
    void anImageBootsOnlyAsItsOwnParameters() {
        KernelImage image = KernelImage.boot(PagingMode.X86_64, SMALL, KernelVariant.CORRECT, null);
        assertTrue(image.bootsAs(PagingMode.X86_64, SMALL, KernelVariant.CORRECT, null));
        assertTrue(image.bootsAs(PagingMode.X86_64, KernelConfig.defaults().withRam(32L << 20).withCpus(2),
                KernelVariant.CORRECT, null), "an equal configuration");
        assertFalse(image.bootsAs(PagingMode.X86_64_LA57, SMALL, KernelVariant.CORRECT, null));
        assertFalse(image.bootsAs(PagingMode.X86_64, SMALL.withCpus(3), KernelVariant.CORRECT, null));
        assertFalse(image.bootsAs(PagingMode.X86_64, SMALL,
                KernelVariant.of(KernelVariant.Bug.LOCAL_FLUSH_ONLY), null));
        assertFalse(image.bootsAs(PagingMode.X86_64, SMALL, KernelVariant.CORRECT, FaultLocking.PER_VMA));
        Kernel k = new Kernel(image, Interleaving.NONE);
        assertEquals(PagingMode.X86_64, k.mode());
        assertEquals(SMALL, k.config());
        assertEquals(KernelVariant.CORRECT, k.variant());
    }

    @Test
    void aCopiedAllocatorHandsOutWhatTheOriginalWouldAndSharesNothingWithIt() {
        Kernel k = new Kernel(PagingMode.X86_64, SMALL.withNodes(2));
        FrameAllocator original = k.allocator();
        FrameAllocator copy = new FrameAllocator(original, new PhysicalMemory(k.memory().image()), Interleaving.NONE);
        long free = original.freeFrames();
        List<Long> fromCopy = new ArrayList<>();
        for (int i = 0; i < 1200; i++) {
            long pa = copy.allocFrame(i % 2, i % 3 == 0 ? FrameUse.USER : FrameUse.KERNEL);
            assertTrue(pa > 0);
            fromCopy.add(pa);
        }
        for (int i = 0; i < 600; i++) {
            copy.freeFrame(fromCopy.get(2 * i));
        }
        assertEquals(free, original.freeFrames(), "the original did not see the copy's allocations");
        List<Long> fromOriginal = new ArrayList<>();
        for (int i = 0; i < 1200; i++) {
            fromOriginal.add(original.allocFrame(i % 2, i % 3 == 0 ? FrameUse.USER : FrameUse.KERNEL));
        }
        assertEquals(fromOriginal, fromCopy, "the same free lists, in the same order");
        assertEquals(free - 600, copy.freeFrames());
    }

    /** A process that faults in pages, forks, writes through copy-on-write, unmaps and exits. */
    private static void work(Kernel k) {
        Task parent = k.createProcess();
        k.switchTo(k.cpu(0), parent);
        long va = k.mmap(parent, 0, 64 * 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE,
                Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        for (int p = 0; p < 64; p++) {
            assertTrue(k.access(k.cpu(0), va + p * 4096L, AccessType.WRITE) >= 0);
        }
        Task child = k.fork(parent);
        k.switchTo(k.cpu(1), child);
        for (int p = 0; p < 64; p += 3) {
            assertTrue(k.access(k.cpu(1), va + p * 4096L, AccessType.WRITE) >= 0);
        }
        assertEquals(0, k.munmap(parent, va, 32 * 4096L));
        k.switchTo(k.cpu(1), k.createProcess());
        k.exit(child);
    }

    private static void assertSameState(Kernel a, Kernel b) {
        assertEquals(a.memory().contentHash(), b.memory().contentHash(), "memory");
        assertEquals(a.initMm().pgd(), b.initMm().pgd(), "swapper_pg_dir");
        assertArrayEquals(a.initMm().pgtablesByLevel(), b.initMm().pgtablesByLevel(), "init_mm's page-table counts");
        assertEquals(a.zeroPage(), b.zeroPage(), "empty_zero_page");
        assertArrayEquals(a.pgtable().ptlockTables(), b.pgtable().ptlockTables(), "tables with a ptlock");
        FrameAllocator fa = a.allocator();
        FrameAllocator fb = b.allocator();
        assertEquals(fa.allocations(), fb.allocations());
        assertEquals(fa.frees(), fb.frees());
        for (FrameUse u : FrameUse.VALUES) {
            assertEquals(fa.inUse(u), fb.inUse(u), u::toString);
        }
        for (int node = 0; node < a.memory().nodes(); node++) {
            assertEquals(fa.freeFrames(node), fb.freeFrames(node), "free frames of node " + node);
        }
        for (long pa = 0; pa < a.memory().sizeBytes(); pa += PhysicalMemory.PAGE_SIZE) {
            if (fa.useOf(pa) != fb.useOf(pa) || fa.pageCount(pa) != fb.pageCount(pa)
                    || fa.pageTableLevel(pa) != fb.pageTableLevel(pa) || fa.anonExclusive(pa) != fb.anonExclusive(pa)) {
                assertEquals(fa.describe(pa), fb.describe(pa), String.format("frame 0x%x", pa));
            }
        }
        // the free lists in the same order: the next frames handed out are the same
        List<Long> nextA = new ArrayList<>();
        List<Long> nextB = new ArrayList<>();
        FrameAllocator ca = new FrameAllocator(fa, new PhysicalMemory(a.memory().image()), Interleaving.NONE);
        FrameAllocator cb = new FrameAllocator(fb, new PhysicalMemory(b.memory().image()), Interleaving.NONE);
        for (int i = 0; i < 600; i++) {
            nextA.add(ca.allocFrame(i % a.memory().nodes(), i % 2 == 0 ? FrameUse.USER : FrameUse.KERNEL));
            nextB.add(cb.allocFrame(i % b.memory().nodes(), i % 2 == 0 ? FrameUse.USER : FrameUse.KERNEL));
        }
        assertEquals(nextA, nextB, "allocation order");
    }
}
