package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The ownership table of {@link CacheLines}, with sharer sets of more than one word. */
class CacheLinesTest {

    private static final long T = 200;

    @Test
    void ownershipMovesAsTheClassCommentsTableSays() {
        CacheLines l = new CacheLines(T, 4);
        assertEquals(0, l.access(0, 7, true), "untouched: free");
        assertEquals(0, l.access(0, 7, true), "own line: free");
        assertEquals(T, l.access(1, 7, false), "owned by another: a transfer");
        assertEquals(0, l.access(1, 7, false), "now a sharer");
        assertEquals(T, l.access(2, 7, false), "a new sharer pays");
        assertEquals(T, l.access(1, 7, true), "write while others share: a transfer");
        assertEquals(0, l.access(1, 7, true));
        assertEquals(3, l.transfers());
    }

    /** CPUs 63, 64 and 127 sit at the edges of the two words; each is its own sharer. */
    @Test
    void sharersAcrossTheWordBoundaryAreTrackedPerCpu() {
        CacheLines l = new CacheLines(T, 128);
        assertEquals(0, l.access(64, 1, false), "untouched");
        assertEquals(T, l.access(63, 1, false), "CPU63 (word 0) joins CPU64 (word 1)");
        assertEquals(0, l.access(63, 1, false));
        assertEquals(0, l.access(64, 1, false), "CPU64 still shares");
        assertEquals(T, l.access(127, 1, false), "CPU127 is not CPU63 (same bit, other word)");
        assertEquals(T, l.access(0, 1, false), "CPU0 is not CPU64 either");
        assertEquals(T, l.access(127, 1, true), "a write while 0, 63 and 64 share");
        assertEquals(0, l.access(127, 1, true), "then owned");
        assertEquals(T, l.access(64, 1, false), "a read of CPU127's line");
        assertEquals(0, l.access(127, 1, false), "the old owner stays a sharer");
        assertEquals(T, l.access(63, 1, false), "CPU63 was dropped by the write");
        assertEquals(0, l.access(64, 2, true));
        assertEquals(0, l.access(64, 2, false), "the owner reads its own line for free");
    }

    @Test
    void aSoleSharerInTheSecondWordWritesWithoutATransfer() {
        CacheLines l = new CacheLines(T, 128);
        assertEquals(0, l.access(100, 5, false));
        assertEquals(0, l.access(100, 5, true), "no other sharer, in either word");
        assertEquals(T, l.access(36, 5, false), "CPU36 (bit 36 of word 0, as CPU100 in word 1)");
    }

    @Test
    void growingKeepsEverySharerSet() {
        CacheLines l = new CacheLines(T, 130);
        for (long key = 0; key < 5000; key++) {
            l.access(129, key, false);
        }
        for (long key = 0; key < 5000; key++) {
            assertEquals(0, l.access(129, key, false), "line " + key + " still shared by CPU129");
        }
        assertEquals(T, l.access(1, 4999, true));
    }

    @Test
    void aCpuOutsideTheTableIsRejectedByNumber() {
        CacheLines l = new CacheLines(T, 64);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> l.access(64, 0, true));
        assertEquals("CPU 64 outside the 64 CPUs of these cache lines", e.getMessage());
    }
}
