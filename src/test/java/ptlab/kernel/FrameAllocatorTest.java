package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

import ptlab.hw.PhysicalMemory;

class FrameAllocatorTest {

    private static FrameAllocator allocator(long ram, int nodes) {
        return new FrameAllocator(new PhysicalMemory(ram, nodes), ram, 2 << 20);
    }

    @Test
    void reservesLowMemoryAndKernelImage() {
        FrameAllocator a = allocator(64L << 20, 1);
        assertEquals(FrameUse.RESERVED, a.useOf(0));
        assertEquals(FrameUse.KERNEL_IMAGE, a.useOf(FrameAllocator.PHYSICAL_START));
        assertEquals(16 + 512, a.reservedFrames());
        assertEquals(a.totalFrames() - a.reservedFrames(), a.freeFrames());
        assertThrows(IllegalStateException.class, () -> a.freeFrame(0));
    }

    @Test
    void allocationsAreDistinctZeroedAndBalance() {
        FrameAllocator a = allocator(8L << 20, 2);
        PhysicalMemory m = a.memory();
        FrameAllocator.Snapshot s = a.snapshot();
        Set<Long> seen = new HashSet<>();
        long pa;
        while ((pa = a.allocFrame(1, FrameUse.USER)) >= 0) {
            assertTrue(seen.add(pa), "frame handed out twice: " + pa);
            assertNotEquals(FrameUse.RESERVED, a.useOf(pa));
            m.storeLong(pa + 8, 0xdeadL);
        }
        assertEquals(0, a.freeFrames());
        for (long f : seen) {
            a.freeFrame(f);
        }
        a.checkBalanced(s);
        long again = a.allocFrame(0, FrameUse.USER);
        assertEquals(0, m.loadLong(again + 8), "a reused frame must come back zeroed");
    }

    /**
     * The simulator suspends a CPU at every simulated-memory access; the zone lock (a Java
     * monitor) must not be held there, or the next simulated CPU on the same thread blocks on it
     * forever. So clearing a frame happens after the lock is dropped, as post_alloc_hook does.
     */
    @Test
    void noMemoryAccessUnderTheZoneLock() {
        FrameAllocator a = allocator(16L << 20, 1);
        PhysicalMemory m = a.memory();
        int[] accesses = {0};
        m.setAccessHook((op, pa) -> {
            accesses[0]++;
            assertFalse(Thread.holdsLock(a), () -> String.format("access to 0x%x under the zone lock", pa));
        });
        long pt = a.allocPageTable(0, 1);
        long user = a.allocFrame(0, FrameUse.USER);
        long huge = a.allocHugeUser(0);
        assertTrue(pt >= 0 && user >= 0 && huge >= 0);
        assertTrue(accesses[0] >= 2 + 512, "frames are cleared through memory: " + accesses[0]);
        a.freeFrame(pt);
        a.freeFrame(user);
        m.setAccessHook(null);
    }

    @Test
    void doubleFreeAndUnallocatedFreeNameTheAddress() {
        FrameAllocator a = allocator(8L << 20, 1);
        long pa = a.allocFrame(0, FrameUse.USER);
        a.freeFrame(pa);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.freeFrame(pa));
        assertTrue(e.getMessage().contains(String.format("0x%x", pa)), e.getMessage());
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, () -> a.freeFrame(pa + 8));
        assertTrue(e2.getMessage().contains(String.format("0x%x", pa + 8)), e2.getMessage());
    }

    @Test
    void leakIsReportedWithUseAndLevel() {
        FrameAllocator a = allocator(8L << 20, 1);
        FrameAllocator.Snapshot s = a.snapshot();
        long pt = a.allocPageTable(0, 2);
        assertEquals(1, a.pageTables(2));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.checkBalanced(s));
        assertTrue(e.getMessage().contains(String.format("0x%x PAGE_TABLE level 2", pt)), e.getMessage());
        a.freeFrame(pt);
        a.checkBalanced(s);
    }

    @Test
    void numaPreferenceAndFallback() {
        FrameAllocator a = allocator(16L << 20, 2);
        PhysicalMemory m = a.memory();
        long pa = a.allocFrame(1, FrameUse.KERNEL);
        assertEquals(1, m.nodeOf(pa));
        long n0 = a.freeFrames(0);
        for (long i = 0; i < n0; i++) {
            assertEquals(0, m.nodeOf(a.allocFrame(0, FrameUse.USER)));
        }
        assertEquals(1, m.nodeOf(a.allocFrame(0, FrameUse.USER)), "node 0 exhausted: falls back to node 1");
    }

    @Test
    void hugeBlocksSplitAndMergeBack() {
        FrameAllocator a = allocator(16L << 20, 1);
        FrameAllocator.Snapshot s = a.snapshot();
        long huge = a.allocHugeUser(0);
        assertTrue(huge >= 0);
        assertEquals(0, huge & ((2 << 20) - 1), "2 MiB aligned");
        for (int i = 0; i < 512; i++) {
            assertEquals(1, a.pageCount(huge + i * 4096L));
        }
        for (int i = 511; i >= 0; i--) {
            assertTrue(a.putPage(huge + i * 4096L), "refcount 1 -> 0 frees");
        }
        a.checkBalanced(s);
        assertEquals(huge, a.allocHugeUser(0), "the freed block merged back to order 9");
    }

    @Property(tries = 50)
    void randomAllocFreeAlwaysBalances(@ForAll @Size(max = 300) java.util.List<@IntRange(min = 0, max = 9) Integer> ops) {
        FrameAllocator a = allocator(8L << 20, 2);
        FrameAllocator.Snapshot s = a.snapshot();
        java.util.ArrayDeque<Long> live = new java.util.ArrayDeque<>();
        for (int op : ops) {
            if (op < 6 || live.isEmpty()) {
                long pa = op == 5 ? a.allocPageTable(op & 1, 1) : a.allocFrame(op & 1, FrameUse.USER);
                if (pa >= 0) {
                    live.push(pa);
                }
            } else {
                a.freeFrame(op == 9 ? live.pollLast() : live.pop());
            }
        }
        while (!live.isEmpty()) {
            a.freeFrame(live.pop());
        }
        a.checkBalanced(s);
        assertEquals(a.totalFrames() - a.reservedFrames(), a.freeFrames());
    }

    /** clear_huge_page(): a THP is zeroed in all 512 frames, not only its first 4 KiB (no information leak). */
    @Test
    void aThpIsZeroedInAll512Frames() {
        FrameAllocator a = allocator(16L << 20, 1);
        PhysicalMemory m = a.memory();
        long huge = a.allocHugeUser(0);
        for (int i = 0; i < 512; i++) {
            m.storeLong(huge + i * 4096L + 8, 0x5ec4e7L);
            m.storeLong(huge + i * 4096L + 4088, 0x5ec4e7L);
        }
        for (int i = 0; i < 512; i++) {
            assertTrue(a.putPage(huge + i * 4096L));
        }
        assertEquals(huge, a.allocHugeUser(0), "the same block comes back");
        for (int i = 0; i < 512; i++) {
            assertEquals(0, m.loadLong(huge + i * 4096L + 8), "frame " + i);
            assertEquals(0, m.loadLong(huge + i * 4096L + 4088), "frame " + i);
        }
    }

    /** The allocator falls back to the other node when a node has no whole 2 MiB block left. */
    @Test
    void aThpFallsBackToTheOtherNodeWhenANodeHasNoBlock() {
        FrameAllocator a = allocator(16L << 20, 2);
        PhysicalMemory m = a.memory();
        long huge;
        while ((huge = a.allocHugeUser(0)) >= 0 && m.nodeOf(huge) == 0) {
            assertEquals(0, huge & ((2 << 20) - 1));
        }
        assertTrue(huge >= 0, "node 1 still has blocks");
        assertEquals(1, m.nodeOf(huge), "node 0 has no block left: node 1's");
        while (a.allocHugeUser(1) >= 0) {
            // take every block of both nodes
        }
        assertEquals(-1, a.allocHugeUser(0), "no block anywhere: the caller falls back to 4 KiB pages");
        assertTrue(a.allocFrame(0, FrameUse.USER) >= 0, "order-0 frames are still there");
    }

    /** A double put_page, a get_page of a free frame, and frees of reserved frames are kernel bugs, named by address. */
    @Test
    void doublePutAndFreesOfReservedFramesAreRejected() {
        FrameAllocator a = allocator(32L << 20, 1);
        long pa = a.allocFrame(0, FrameUse.USER);
        a.getPage(pa);
        assertEquals(2, a.pageCount(pa));
        assertFalse(a.putPage(pa), "2 -> 1: still in use");
        assertEquals(FrameUse.USER, a.useOf(pa));
        assertTrue(a.putPage(pa), "1 -> 0: freed");
        assertEquals(FrameUse.FREE, a.useOf(pa));
        FrameAllocator.BadFree twice = assertThrows(FrameAllocator.BadFree.class, () -> a.putPage(pa));
        assertTrue(twice.getMessage().contains(String.format("0x%x", pa)), twice.getMessage());
        assertThrows(FrameAllocator.BadFree.class, () -> a.getPage(pa));
        FrameAllocator.BadFree reserved = assertThrows(FrameAllocator.BadFree.class, () -> a.freeFrame(0x1000));
        assertTrue(reserved.getMessage().contains("RESERVED"), reserved.getMessage());
        FrameAllocator.BadFree image = assertThrows(FrameAllocator.BadFree.class,
                () -> a.putPage(FrameAllocator.PHYSICAL_START));
        assertTrue(image.getMessage().contains("KERNEL_IMAGE"), image.getMessage());
        assertThrows(IllegalArgumentException.class, () -> a.freeFrame(-4096));
        assertThrows(IllegalArgumentException.class, () -> a.freeFrame(32L << 20));
    }

    /** checkBalanced() against boot and against a snapshot reports a leaked frame of any use. */
    @Test
    void checkBalancedReportsAnyUseLeaked() {
        FrameAllocator a = allocator(8L << 20, 1);
        a.checkBalanced();
        FrameAllocator.Snapshot s = a.snapshot();
        long user = a.allocFrame(0, FrameUse.USER);
        IllegalStateException e = assertThrows(IllegalStateException.class, a::checkBalanced);
        assertTrue(e.getMessage().contains(String.format("0x%x USER", user)), e.getMessage());
        IllegalStateException e2 = assertThrows(IllegalStateException.class, () -> a.checkBalanced(s));
        assertTrue(e2.getMessage().contains("USER: 1 now, 0 before"), e2.getMessage());
        assertEquals(16, s.inUse(FrameUse.RESERVED), "the low 64 KiB");
        a.freeFrame(user);
        a.checkBalanced();
        a.checkBalanced(s);
    }

    /** GFP_KERNEL comes from ZONE_NORMAL only; GFP_HIGHUSER prefers HIGHMEM (x86-32 with highmem). */
    @Test
    void kernelFramesStayInLowmemAndUserFramesPreferHighmem() {
        long ram = 32L << 20;
        long lowmemEnd = 24L << 20;
        FrameAllocator a = new FrameAllocator(new PhysicalMemory(ram, 1), lowmemEnd, 2 << 20);
        assertTrue(a.allocFrame(0, FrameUse.USER) >= lowmemEnd, "user pages from HIGHMEM first");
        assertTrue(a.allocPageTable(0, 1) < lowmemEnd, "page tables from ZONE_NORMAL");
        long n = 0;
        long pa;
        while ((pa = a.allocFrame(0, FrameUse.KERNEL)) >= 0) {
            assertTrue(pa < lowmemEnd, String.format("kernel frame 0x%x in HIGHMEM", pa));
            n++;
        }
        assertTrue(n > 0);
        assertTrue(a.allocFrame(0, FrameUse.USER) >= lowmemEnd, "HIGHMEM is left for user pages");
    }

    /** The counters the measurements read: allocations, frees, frames in use per use and per page-table level. */
    @Test
    void countersFollowAllocationsAndFrees() {
        FrameAllocator a = allocator(8L << 20, 2);
        long free = a.freeFrames();
        long free1 = a.freeFrames(1);
        long pt = a.allocPageTable(1, 3);
        long user = a.allocFrame(1, FrameUse.USER);
        assertEquals(2, a.allocations());
        assertEquals(1, a.inUse(FrameUse.PAGE_TABLE));
        assertEquals(1, a.inUse(FrameUse.USER));
        assertEquals(1, a.pageTables(3));
        assertEquals(3, a.pageTableLevel(pt));
        assertEquals(0, a.pageTableLevel(user));
        assertEquals(free - 2, a.freeFrames());
        assertEquals(free1 - 2, a.freeFrames(1));
        a.freeFrame(pt);
        assertEquals(0, a.pageTables(3));
        assertEquals(0, a.pageTableLevel(pt));
        assertEquals(1, a.frees());
        assertTrue(a.putPage(user));
        assertEquals(2, a.frees());
        assertEquals(0, a.inUse(FrameUse.USER));
        assertEquals(free, a.freeFrames());
    }

    @Test
    void badRequestsNameTheValue() {
        FrameAllocator a = allocator(8L << 20, 2);
        IllegalArgumentException node = assertThrows(IllegalArgumentException.class,
                () -> a.allocFrame(2, FrameUse.USER));
        assertTrue(node.getMessage().contains("node 2"), node.getMessage());
        assertThrows(IllegalArgumentException.class, () -> a.allocFrame(-1, FrameUse.USER));
        assertThrows(IllegalArgumentException.class, () -> a.allocFrame(0, FrameUse.PAGE_TABLE));
        IllegalArgumentException level = assertThrows(IllegalArgumentException.class, () -> a.allocPageTable(0, 6));
        assertTrue(level.getMessage().contains("6"), level.getMessage());
        assertThrows(IllegalArgumentException.class, () -> a.allocPageTable(0, 0));
        assertTrue(a.allocPageTable(0, 5) >= 0);
        assertTrue(a.allocPageTable(0, 1) >= 0);
    }
}
