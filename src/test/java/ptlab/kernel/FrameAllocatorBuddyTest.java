package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

import ptlab.hw.PhysicalMemory;

/**
 * The buddy allocator's own behaviour (Linux v6.6 mm/page_alloc.c, orders 0 and 9 only): boot's
 * memblock reservations, free_area_init of blocks that straddle a node, expand() splitting and
 * __free_one_page() merging through the middle of a free list, the scheduling points every
 * allocator operation announces, and the leak report of invariant 6 (allocatedSince, leaks,
 * describe, checkBalanced) naming exactly the frames leaked.
 */
class FrameAllocatorBuddyTest {

    private static final long PAGE = PhysicalMemory.PAGE_SIZE;
    private static final long TWO_MIB = 2L << 20;

    private static FrameAllocator allocator(long ram, int nodes) {
        return new FrameAllocator(new PhysicalMemory(ram, nodes), ram, TWO_MIB);
    }

    /**
     * Takes every order-0 frame left (GFP_HIGHUSER from node 0, falling back through the
     * zonelist) and checks the free lists were consistent: each frame handed out once, as many
     * as freeFrames() promised, and then none left.
     */
    private static Set<Long> drain(FrameAllocator a) {
        long promised = a.freeFrames();
        Set<Long> got = new HashSet<>();
        long pa;
        while ((pa = a.allocFrame(0, FrameUse.USER)) >= 0) {
            assertTrue(got.add(pa), String.format("frame 0x%x handed out twice", pa));
            assertTrue(got.size() <= promised, "more frames than freeFrames() said were free");
        }
        assertEquals(promised, got.size(), "freeFrames() counted frames the free lists do not hold");
        assertEquals(0, a.freeFrames());
        return got;
    }

    private static int hugeBlocksLeft(FrameAllocator a) {
        int n = 0;
        while (a.allocHugeUser(0) >= 0) {
            n++;
        }
        return n;
    }

    // ---- boot: memblock_reserve of low memory and the kernel image -------------------------------

    /**
     * The image goes to CONFIG_PHYSICAL_START (16 MiB) when RAM holds it there with 4 MiB to
     * spare; on anything smaller, right after the X86_RESERVE_LOW 64 KiB.
     */
    @Test
    void theImageLoadsAt16MiBOnlyWhenItFitsThereWith4MiBToSpare() {
        long enough = FrameAllocator.PHYSICAL_START + TWO_MIB + (4L << 20);   // 22 MiB
        FrameAllocator at16 = allocator(enough, 1);
        assertEquals(FrameUse.KERNEL_IMAGE, at16.useOf(FrameAllocator.PHYSICAL_START));
        assertEquals(FrameUse.KERNEL_IMAGE, at16.useOf(FrameAllocator.PHYSICAL_START + TWO_MIB - PAGE));
        assertEquals(FrameUse.FREE, at16.useOf(FrameAllocator.RESERVE_LOW));

        FrameAllocator low = allocator(enough - PAGE, 1);
        assertEquals(FrameUse.KERNEL_IMAGE, low.useOf(FrameAllocator.RESERVE_LOW));
        assertEquals(FrameUse.KERNEL_IMAGE, low.useOf(FrameAllocator.RESERVE_LOW + TWO_MIB - PAGE));
        assertEquals(FrameUse.FREE, low.useOf(FrameAllocator.RESERVE_LOW + TWO_MIB));
        assertEquals(FrameUse.FREE, low.useOf(FrameAllocator.PHYSICAL_START));
        assertEquals(16 + 512, low.reservedFrames());
    }

    /** An image that fills RAM to its last frame boots (with nothing free); one frame more does not. */
    @Test
    void anImageThatFillsRamToTheLastFrameBootsAndOneFrameMoreIsRejected() {
        long ram = FrameAllocator.RESERVE_LOW + TWO_MIB;
        FrameAllocator full = allocator(ram, 1);
        assertEquals(full.totalFrames(), full.reservedFrames());
        assertEquals(FrameUse.KERNEL_IMAGE, full.useOf(ram - PAGE));
        assertEquals(0, full.freeFrames());
        assertEquals(-1, full.allocFrame(0, FrameUse.USER));
        full.checkBalanced();

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new FrameAllocator(new PhysicalMemory(ram, 1), ram, TWO_MIB + 1));
        assertTrue(e.getMessage().contains((TWO_MIB + 1) + " bytes") && e.getMessage().contains(ram + " bytes"),
                e.getMessage());
    }

    /** Frame numbers are ints with room for a block above: RAM up to 2^30 - 1 frames, not one more. */
    @Test
    void ramUpToTwoToThe30FramesIsAddressedAndLargerIsRejectedNamingItsSize() {
        long largest = ((long) (Integer.MAX_VALUE / 2)) << PhysicalMemory.PAGE_SHIFT;
        FrameAllocator a = allocator(largest, 1);
        assertEquals(Integer.MAX_VALUE / 2, a.totalFrames());
        long top = a.allocHugeUser(0);
        assertTrue(top >= 0 && top + TWO_MIB <= largest);

        long tooLarge = largest + PAGE;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> allocator(tooLarge, 1));
        assertTrue(e.getMessage().contains(tooLarge + " bytes"), e.getMessage());
    }

    // ---- free_area_init: blocks that straddle a node or the HIGHMEM boundary ----------------------

    /**
     * A 2 MiB block across a node boundary is not one buddy: each of its free frames goes onto
     * its own node's list, none is lost and no reserved frame is freed. 8 MiB on three nodes:
     * nodes start at frames 682 and 1364, inside blocks 1 and 2.
     */
    @Test
    void framesOfABlockStraddlingANodeGoToTheirOwnNodesList() {
        PhysicalMemory m = new PhysicalMemory(8L << 20, 3);
        FrameAllocator a = new FrameAllocator(m, 8L << 20, TWO_MIB);
        assertNotEquals(0, m.nodeStart(1) % TWO_MIB, "the boundary must lie inside a block");
        Set<Long> all = new HashSet<>();
        for (int node = 0; node < 3; node++) {
            long nodeFree = 0;
            for (long pa = m.nodeStart(node); pa < m.nodeEnd(node); pa += PAGE) {
                if (a.useOf(pa) == FrameUse.FREE) {
                    nodeFree++;
                }
            }
            assertEquals(nodeFree, a.freeFrames(node), "node " + node);
            for (long i = 0; i < nodeFree; i++) {
                long pa = a.allocFrame(node, FrameUse.KERNEL);
                assertEquals(node, m.nodeOf(pa), String.format("0x%x handed out for node %d", pa, node));
                assertTrue(all.add(pa));
            }
            assertEquals(0, a.freeFrames(node));
        }
        assertEquals(-1, a.allocFrame(0, FrameUse.KERNEL));
        long reserved = 0;
        for (long pa = 0; pa < m.sizeBytes(); pa += PAGE) {
            if (!all.contains(pa)) {
                reserved++;
                assertTrue(pa < FrameAllocator.RESERVE_LOW + TWO_MIB, String.format("0x%x never handed out", pa));
            }
        }
        assertEquals(a.reservedFrames(), reserved);
    }

    /** The same for the ZONE_NORMAL/ZONE_HIGHMEM boundary inside a block: kernel frames never from HIGHMEM. */
    @Test
    void framesOfABlockStraddlingHighmemGoToTheirOwnZone() {
        long lowmemEnd = (5L << 20) + 3 * PAGE;
        FrameAllocator a = new FrameAllocator(new PhysicalMemory(8L << 20, 1), lowmemEnd, TWO_MIB);
        long free = a.freeFrames();
        Set<Long> kernel = new TreeSet<>();
        long pa;
        while ((pa = a.allocFrame(0, FrameUse.KERNEL)) >= 0) {
            assertTrue(pa < lowmemEnd, String.format("kernel frame 0x%x in HIGHMEM", pa));
            assertTrue(kernel.add(pa));
        }
        assertEquals(lowmemEnd - FrameAllocator.RESERVE_LOW - TWO_MIB, kernel.size() * PAGE, "all of ZONE_NORMAL");
        Set<Long> user = drain(a);
        for (long u : user) {
            assertTrue(u >= lowmemEnd, String.format("0x%x of ZONE_NORMAL was handed out twice", u));
        }
        assertEquals(free, kernel.size() + user.size());
    }

    // ---- expand() and __free_one_page() --------------------------------------------------------------

    /**
     * Every frame taken one at a time (splitting every block) and freed again: each 2 MiB block
     * whose 512 frames are free is whole again on the order-9 list.
     */
    @Test
    void freeingEveryFrameOfASplitBlockMergesItBackToOrder9() {
        FrameAllocator a = allocator(16L << 20, 1);
        int blocks = hugeBlocksLeft(a);
        assertEquals(6, blocks, "16 MiB less the first two blocks (low reserve, image)");
        a = allocator(16L << 20, 1);
        Set<Long> frames = drain(a);
        for (long pa : frames) {
            a.freeFrame(pa);
        }
        assertEquals(blocks, hugeBlocksLeft(a), "every block merged back");
    }

    /**
     * __free_one_page() takes a merged block's frames out of the middle of the order-0 list, where
     * frames of other blocks lie before and after them: the list must stay linked, so no frame
     * of the merged block is handed out as order 0 again and no other frame is lost.
     */
    @Test
    void aMergeUnlinksTheBlocksFramesFromTheMiddleOfTheFreeList() {
        FrameAllocator a = allocator(16L << 20, 1);
        while (a.freeFrames() > 6 * 512) {   // empty the order-0 list of boot (block 1 after the image)
            a.allocFrame(0, FrameUse.USER);
        }
        List<Long> blockA = new ArrayList<>();
        for (int i = 0; i < 512; i++) {   // splits one block and takes all of it
            blockA.add(a.allocFrame(0, FrameUse.USER));
        }
        long firstA = blockA.stream().mapToLong(Long::longValue).min().getAsLong();
        assertEquals(0, firstA % TWO_MIB);
        long b1 = a.allocFrame(0, FrameUse.USER);   // splits a second block
        long bHeld = a.allocFrame(0, FrameUse.USER);   // keeps it split while b1 is freed
        assertNotEquals(firstA / TWO_MIB, b1 / TWO_MIB);
        assertEquals(b1 / TWO_MIB, bHeld / TWO_MIB);
        // Interleave the two blocks on the list: A's frames, then B's, then the rest of A's.
        for (int i = 0; i < 256; i++) {
            a.freeFrame(blockA.get(i));
        }
        a.freeFrame(b1);
        long b2 = a.allocFrame(0, FrameUse.USER);
        assertEquals(b1, b2, "LIFO: the frame just freed comes back first");
        a.freeFrame(b2);
        for (int i = 256; i < 512; i++) {
            a.freeFrame(blockA.get(i));   // the last one merges A, from around b1
        }
        // The order-0 list now holds exactly B's free frames, b1 first; A is whole on order 9,
        // at its head, so the next split hands out A's frames, lowest first.
        long free = a.freeFrames();
        List<Long> order = new ArrayList<>();
        for (int i = 0; i < 511 + 512; i++) {
            order.add(a.allocFrame(0, FrameUse.USER));
        }
        assertEquals(b1, order.get(0));
        Set<Long> expectedB = new HashSet<>();
        for (long pa = b1; pa < b1 + TWO_MIB; pa += PAGE) {
            if (pa != bHeld) {
                expectedB.add(pa);
            }
        }
        assertEquals(expectedB, new HashSet<>(order.subList(0, 511)), "the order-0 list after the merge");
        for (int i = 0; i < 512; i++) {
            assertEquals(firstA + i * PAGE, order.get(511 + i), "A split again, frame " + i);
        }
        Set<Long> rest = drain(a);
        assertEquals(free - order.size(), rest.size());
        for (long pa : order) {
            assertFalse(rest.contains(pa), String.format("0x%x handed out twice", pa));
        }
    }

    // ---- scheduling points: every operation is announced, every frame reported ---------------------

    /** What the allocator announced to the scheduler, in order. */
    private static final class Recorder implements Interleaving {
        final List<String> events = new ArrayList<>();
        FrameAllocator allocator;
        long freeAtLastPoint = -1;

        @Override
        public void beforeAllocator() {
            events.add("point");
            freeAtLastPoint = allocator.freeFrames();   // the state before the operation
        }

        @Override
        public void frameAllocated(long pa) {
            events.add(String.format("alloc 0x%x", pa));
        }

        @Override
        public void frameFreed(long pa) {
            events.add(String.format("free 0x%x", pa));
        }

        List<String> take() {
            List<String> e = List.copyOf(events);
            events.clear();
            return e;
        }
    }

    /**
     * Which CPU gets which frame is decided by the schedule: every allocation, free and
     * refcount change is a scheduling point before it changes anything, and every frame handed
     * out or put back is reported (the checker's frame generations), a 2 MiB block frame by frame.
     */
    @Test
    void everyAllocatorOperationIsAScheduledPointAndEveryFrameIsReported() {
        Recorder r = new Recorder();
        FrameAllocator a = new FrameAllocator(new PhysicalMemory(8L << 20, 1), 8L << 20, TWO_MIB, r);
        r.allocator = a;
        long free = a.freeFrames();

        long user = a.allocFrame(0, FrameUse.USER);
        assertEquals(List.of("point", String.format("alloc 0x%x", user)), r.take());
        assertEquals(free, r.freeAtLastPoint, "announced before the frame left the free list");

        long pt = a.allocPageTable(0, 1);
        assertEquals(List.of("point", String.format("alloc 0x%x", pt)), r.take());

        long huge = a.allocHugeUser(0);
        List<String> e = r.take();
        assertEquals(1 + 512, e.size());
        assertEquals("point", e.get(0));
        for (int i = 0; i < 512; i++) {
            assertEquals(String.format("alloc 0x%x", huge + i * PAGE), e.get(1 + i));
        }

        a.getPage(user);
        assertEquals(List.of("point"), r.take());
        assertFalse(a.putPage(user));
        assertEquals(List.of("point"), r.take(), "2 -> 1: nothing freed, nothing reported");
        long before = a.freeFrames();
        assertTrue(a.putPage(user));
        assertEquals(List.of("point", String.format("free 0x%x", user)), r.take());
        assertEquals(before, r.freeAtLastPoint);

        a.freeFrame(pt);
        assertEquals(List.of("point", String.format("free 0x%x", pt)), r.take());

        while (a.allocHugeUser(0) >= 0) {
            // take the other whole blocks
        }
        r.take();
        assertEquals(-1, a.allocHugeUser(0));
        assertEquals(List.of("point"), r.take(), "a failed allocation reports no frame");
    }

    /** pagetable_alloc() backs the frame before publishing it (a walker may read it at once); clear_page of a user frame need not. */
    @Test
    void aPageTableFrameIsBackedWhenHandedOut() {
        FrameAllocator a = allocator(8L << 20, 1);
        PhysicalMemory m = a.memory();
        long touched = m.framesTouched();
        a.allocFrame(0, FrameUse.USER);
        assertEquals(touched, m.framesTouched(), "a never-written frame stays unbacked");
        long pt = a.allocPageTable(0, 4);
        assertEquals(touched + 1, m.framesTouched(), String.format("page table 0x%x backed", pt));
        assertEquals(0, m.loadLong(pt));
        m.storeLong(pt + 8, 0x1234_5067L);   // a stale entry left in the freed table
        a.freeFrame(pt);
        assertEquals(pt, a.allocPageTable(0, 1), "LIFO: the same frame");
        assertEquals(0, m.loadLong(pt + 8), "a page table comes back cleared (pagetable_alloc zeroes it)");
    }

    // ---- invariant 6: the leak report --------------------------------------------------------------

    /**
     * allocatedSince names exactly the frames allocated now that were free at the snapshot:
     * not the ones allocated before it and still held, nor the ones freed again; in blocks split
     * before the snapshot and after it, and more than its first buffer of 16.
     */
    @Test
    void allocatedSinceNamesExactlyTheFramesLeakedAfterTheSnapshot() {
        FrameAllocator a = allocator(16L << 20, 1);
        List<Long> before = new ArrayList<>();
        for (int i = 0; i < 600; i++) {   // the boot list, then into a split block
            before.add(a.allocPageTable(0, 1));
        }
        FrameAllocator.Snapshot s = a.snapshot();
        assertEquals(0, a.allocatedSince(s).length);
        a.freeFrame(before.get(0));   // held at the snapshot, freed: not a leak
        Set<Long> leaked = new TreeSet<>();
        long reused = a.allocFrame(0, FrameUse.KERNEL);
        assertEquals(before.get(0), reused, "LIFO: not free at the snapshot, so not named");
        for (int i = 0; i < 40; i++) {   // some in a block split before the snapshot
            leaked.add(a.allocFrame(0, FrameUse.KERNEL));
        }
        long huge = a.allocHugeUser(0);   // a block that had no struct pages at the snapshot
        for (int i = 0; i < 512; i++) {
            leaked.add(huge + i * PAGE);
        }
        long freedAgain = a.allocFrame(0, FrameUse.USER);
        a.freeFrame(freedAgain);
        long[] expected = leaked.stream().mapToLong(Long::longValue).toArray();
        assertArrayEquals(expected, a.allocatedSince(s));
        for (long pa : leaked) {
            a.freeFrame(pa);
        }
        a.freeFrame(reused);
        assertEquals(0, a.allocatedSince(s).length);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.checkBalanced(s));
        assertTrue(e.getMessage().contains("PAGE_TABLE: 599 now, 600 before;"), e.getMessage());
    }

    /** leaks() stops at its limit and describes each frame as describe() does. */
    @Test
    void leaksAreListedUpToTheLimitAndDescribedByUseLevelAndRefcount() {
        FrameAllocator a = allocator(8L << 20, 1);
        FrameAllocator.Snapshot s = a.snapshot();
        long pt = a.allocPageTable(0, 3);
        long user = a.allocFrame(0, FrameUse.USER);
        a.getPage(user);
        long kernel = a.allocFrame(0, FrameUse.KERNEL);
        assertEquals(String.format("0x%x PAGE_TABLE level 3 refcount=1", pt), a.describe(pt));
        assertEquals(String.format("0x%x USER refcount=2", user), a.describe(user));
        assertEquals(String.format("0x%x KERNEL refcount=1", kernel), a.describe(kernel));
        assertEquals("0x0 RESERVED refcount=0", a.describe(0));
        List<String> all = a.leaks(s, 10);
        assertEquals(3, all.size());
        List<Long> byAddress = new ArrayList<>(List.of(pt, user, kernel));
        byAddress.sort(null);
        for (int i = 0; i < 3; i++) {
            assertEquals(a.describe(byAddress.get(i)), all.get(i));
        }
        assertEquals(all.subList(0, 2), a.leaks(s, 2), "at most the limit");
    }

    /** A leaked table of any level, up to level 5 (a p4d table or a 5-level pgd), is named by level. */
    @Test
    void aLeakedTableIsReportedByItsLevelUpToFive() {
        FrameAllocator a = allocator(8L << 20, 1);
        FrameAllocator.Snapshot s = a.snapshot();
        long pgd = a.allocPageTable(0, 5);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.checkBalanced(s));
        assertTrue(e.getMessage().contains("page tables level 5: 1 now, 0 before;"), e.getMessage());
        assertTrue(e.getMessage().contains(String.format("0x%x PAGE_TABLE level 5", pgd)), e.getMessage());
        a.freeFrame(pgd);
        long pmd = a.allocPageTable(0, 2);
        FrameAllocator.Snapshot s2 = a.snapshot();
        a.freeFrame(pmd);
        long pte = a.allocPageTable(0, 1);   // as many tables as before, of another level
        IllegalStateException e2 = assertThrows(IllegalStateException.class, () -> a.checkBalanced(s2));
        assertTrue(e2.getMessage().contains("page tables level 1: 1 now, 0 before;"), e2.getMessage());
        assertTrue(e2.getMessage().contains("page tables level 2: 0 now, 1 before;"), e2.getMessage());
        assertFalse(e2.getMessage().contains("PAGE_TABLE:"), "the PAGE_TABLE count itself balances");
        a.freeFrame(pte);
    }

    /**
     * Against boot, the report counts the frames in use and lists the lowest of them, up to
     * 400 characters: 25 entries of " 0x210000 KERNEL" (16 characters each) of 30 leaked.
     */
    @Test
    void theBootBalanceReportCountsTheFramesInUseAndListsAt400Characters() {
        FrameAllocator a = allocator(8L << 20, 1);
        TreeSet<Long> all = new TreeSet<>();
        long pa;
        while ((pa = a.allocFrame(0, FrameUse.KERNEL)) >= 0) {
            all.add(pa);
        }
        List<Long> kept = new ArrayList<>();
        for (long f : all) {
            if (kept.size() < 30) {
                kept.add(f);
            } else {
                a.freeFrame(f);
            }
        }
        assertEquals(0x210000L, kept.get(0), "first frame after the image at 64 KiB");
        IllegalStateException e = assertThrows(IllegalStateException.class, a::checkBalanced);
        StringBuilder listed = new StringBuilder();
        for (int i = 0; i < 25; i++) {
            listed.append(String.format(" 0x%x KERNEL", kept.get(i)));
        }
        assertEquals(400, listed.length());
        assertEquals("frame allocator not balanced: 30 frames in use:" + listed, e.getMessage());
    }

    // ---- properties ----------------------------------------------------------------------------------

    /**
     * After any sequence of order-0 and order-9 allocations, get_page/put_page and frees on two
     * nodes with HIGHMEM, allocatedSince(snapshot) names exactly the frames held now that were
     * free at the snapshot, and the free lists still hand out every free frame exactly once.
     */
    @Property(tries = 60)
    void allocatedSinceNamesExactlyTheFramesStillHeldAndTheListsStayConsistent(
            @ForAll @Size(max = 200) List<@IntRange(min = 0, max = 11) Integer> ops,
            @ForAll @IntRange(min = 0, max = 200) int snapshotAt) {
        FrameAllocator a = new FrameAllocator(new PhysicalMemory(12L << 20, 2), (9L << 20) + 5 * PAGE, TWO_MIB);
        List<Long> live = new ArrayList<>();   // one entry per reference held
        Set<Long> atSnapshot = null;
        FrameAllocator.Snapshot s = a.snapshot();
        for (int k = 0; k <= ops.size(); k++) {
            if (k == Math.min(snapshotAt, ops.size())) {
                s = a.snapshot();
                atSnapshot = new HashSet<>(live);
            }
            if (k == ops.size()) {
                break;
            }
            int op = ops.get(k);
            if (op <= 4 || live.isEmpty()) {
                long pa = op == 4 ? a.allocPageTable(op & 1, 1 + k % 5)
                        : a.allocFrame(op & 1, op == 3 ? FrameUse.KERNEL : FrameUse.USER);
                if (pa >= 0) {
                    live.add(pa);
                }
            } else if (op == 5) {
                long huge = a.allocHugeUser(k & 1);
                for (int i = 0; huge >= 0 && i < 512; i++) {
                    live.add(huge + i * PAGE);
                }
            } else if (op == 6) {
                long pa = live.get(k % live.size());
                a.getPage(pa);
                live.add(pa);
            } else {
                long pa = live.remove((k * 7) % live.size());
                if (live.contains(pa)) {
                    assertFalse(a.putPage(pa), "another reference is held");
                } else if (a.useOf(pa) == FrameUse.USER) {
                    assertTrue(a.putPage(pa));
                } else {
                    a.freeFrame(pa);
                }
            }
        }
        Set<Long> held = new TreeSet<>(live);
        held.removeAll(atSnapshot);
        assertArrayEquals(held.stream().mapToLong(Long::longValue).toArray(), a.allocatedSince(s));
        Set<Long> drained = drain(a);
        for (long pa : live) {
            assertFalse(drained.contains(pa), String.format("held frame 0x%x handed out again", pa));
        }
    }
}
