package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.tools.WalkWorkloads;

/**
 * A memory made from an {@link PhysicalMemory.Image} holds the image's contents, copies a frame
 * only when it first writes it (or the walker keeps it), and never writes the image: sibling
 * memories from one image are independent (what the explorer relies on when every schedule's
 * kernel starts from one booted image).
 */
class PhysicalMemoryImageTest {

    private static PhysicalMemory booted() {
        PhysicalMemory m = new PhysicalMemory(8L << 20, 2);
        m.storeLong(0x1000, 0x1111);
        m.storeLong(0x1ff8, 0x2222);
        m.storeInt(0x40_0004, 0x3333);          // a frame in the second node
        return m;
    }

    @Test
    void readsTheImageWithoutCopying() {
        PhysicalMemory.Image image = booted().image();
        PhysicalMemory m = new PhysicalMemory(image);
        assertEquals(8L << 20, m.sizeBytes());
        assertEquals(2, m.nodes());
        assertEquals(0x1111, m.loadLong(0x1000));
        assertEquals(0x2222, m.loadEntry(0x1ff8, 8));
        assertEquals(0x3333, m.loadInt(0x40_0004));
        assertEquals(0, m.loadLong(0x2000), "a frame the image never had reads zero");
        long[] words = new long[512];
        m.peekFrame(0x1000, words);
        assertEquals(0x1111, words[0]);
        assertEquals(0x2222, words[511]);
        m.readFrame(0x1000, words);
        assertEquals(0x2222, words[511]);
        assertEquals(0, m.framesTouched(), "reads copy nothing");
        assertEquals(booted().contentHash(), m.contentHash());
    }

    @Test
    void writesGoToTheMemorysOwnCopyNeverToTheImageOrASibling() {
        PhysicalMemory.Image image = booted().image();
        PhysicalMemory a = new PhysicalMemory(image);
        PhysicalMemory b = new PhysicalMemory(image);
        a.storeLong(0x1008, 0xAAAA);
        assertEquals(0x1111, a.loadLong(0x1000), "the rest of the frame comes with the first write");
        assertEquals(0x2222, a.loadLong(0x1ff8));
        assertEquals(0xAAAA, a.loadLong(0x1008));
        assertEquals(1, a.framesTouched());
        assertEquals(0, b.loadLong(0x1008), "a sibling from the same image does not see it");
        assertEquals(0, new PhysicalMemory(image).loadLong(0x1008), "nor does a memory made later");

        assertTrue(b.compareAndSetLong(0x1000, 0x1111, 0xBBBB));
        assertEquals(0x1111, a.loadLong(0x1000));
        assertEquals(0x2222, b.exchangeLong(0x1ff8, 0));
        assertEquals(0x2222, a.loadLong(0x1ff8));
        assertEquals(0x3333, b.exchangeInt(0x40_0004, 9));
        assertEquals(0x3333, a.loadInt(0x40_0004));
        assertEquals(0x3333, new PhysicalMemory(image).loadInt(0x40_0004));
    }

    @Test
    void wholeFrameOperationsSeeAndReplaceTheImagesContents() {
        PhysicalMemory.Image image = booted().image();
        PhysicalMemory m = new PhysicalMemory(image);
        m.copyFrame(0x1000, 0x5000);                 // copy_page from a frame only the image has
        assertEquals(0x1111, m.loadLong(0x5000));
        assertEquals(0x2222, m.loadLong(0x5ff8));
        m.zeroFrame(0x1000);                         // clear_page of it
        assertEquals(0, m.loadLong(0x1000));
        assertEquals(0, m.loadLong(0x1ff8));
        assertEquals(0x1111, new PhysicalMemory(image).loadLong(0x1000));
    }

    @Test
    void anImageOfAMemoryMadeFromAnImageHoldsBoth() {
        PhysicalMemory first = new PhysicalMemory(booted().image());
        first.storeLong(0x3000, 0x4444);
        PhysicalMemory second = new PhysicalMemory(first.image());
        assertEquals(0x1111, second.loadLong(0x1000));
        assertEquals(0x4444, second.loadLong(0x3000));
        assertEquals(first.contentHash(), second.contentHash());
        first.storeLong(0x3000, 5);
        assertEquals(0x4444, second.loadLong(0x3000), "the image was a copy");
    }

    /**
     * The walker keeps the array of each table it read (frameIfBacked). For a table only the image
     * has, that must be the memory's own copy: were it the image's, a later write to the table
     * (which copies the frame) would be invisible to the walks that follow.
     */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void theWalkerSeesWritesToTablesItFirstReadFromTheImage(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.samePage(mode);
        long va = w.vas[0];
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        long leafAddress = w.out.leafEntryAddress;
        long leaf = w.out.leafEntry;
        long pa = w.out.pa;

        PhysicalMemory m = new PhysicalMemory(w.memory.image());
        PageWalker walker = new PageWalker(m);
        WalkResult out = new WalkResult();
        assertTrue(walker.translate(w.regs, va, AccessType.READ, false, false, out), out::toString);
        assertEquals(pa, out.pa);
        m.storeEntry(leafAddress, mode.entryBytes(), (leaf & ~PteBits.A) + PhysicalMemory.PAGE_SIZE);
        assertTrue(walker.translate(w.regs, va, AccessType.READ, false, false, out), out::toString);
        assertEquals(pa + PhysicalMemory.PAGE_SIZE, out.pa, "the walk reads the table as written");
        m.storeEntry(leafAddress, mode.entryBytes(), 0);
        assertFalse(walker.translate(w.regs, va, AccessType.READ, false, false, out));
        assertEquals(WalkResult.EXC_PF, out.exception);

        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out), "the original is untouched");
        assertEquals(pa, w.out.pa);
        long[] original = new long[512];
        long[] copy = new long[512];
        w.memory.peekFrame(leafAddress, original);
        new PhysicalMemory(w.memory.image()).peekFrame(leafAddress, copy);
        assertArrayEquals(original, copy);
    }
}
